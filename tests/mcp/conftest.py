"""Fixtures for the MCP server tests: a published sample export in a temp EXPORT_DIR."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_export import write_sample_export


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """EXPORT_DIR holding one published version of the sample people."""
    root = tmp_path / "export"
    write_sample_export(root)
    return root
