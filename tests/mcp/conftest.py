"""Fixtures for the MCP server tests: a published sample export in a temp EXPORT_DIR."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The project packages are imported from the checkout (the editable install may predate them).
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sample_export import write_sample_export  # noqa: E402


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """EXPORT_DIR holding one published version of the sample people."""
    root = tmp_path / "export"
    write_sample_export(root)
    return root
