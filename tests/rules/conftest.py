"""Fixtures for rule tests: a private copy of the default rule folder that a test may edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rules.models import FILE_MODELS

DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the shipped rule files in a temp folder."""
    target = tmp_path / "rules"
    target.mkdir()
    for name in FILE_MODELS:
        shutil.copy(DEFAULT_RULES_DIR / name, target / name)
    return target


@pytest.fixture
def empty_rules_dir(tmp_path: Path) -> Path:
    """Every rule file present but empty (all sections default to nothing)."""
    target = tmp_path / "empty_rules"
    target.mkdir()
    for name in FILE_MODELS:
        (target / name).write_text("# nothing here\n", encoding="utf-8")
    return target
