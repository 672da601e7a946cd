"""The Spark suite (`pytest -m spark`): a JVM per build, so it runs on small data.

Needs Java and the `spark` extra, which .ci/setup installs; without them the suite is skipped.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

# dbt_harness (run dbt in a subprocess with its own target folder) lives with the dbt tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = []
    if shutil.which("java") is None:
        missing.append("java")
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("pyhive") is None:
        missing.append('the spark extra (pip install ".[spark]")')
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"Spark suite needs {' and '.join(missing)} (.ci/setup installs them)")
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(skip)
