"""dbt assets: models grouped by folder (staging / intermediate / marts), dbt tests as asset checks.

dbt sources are keyed `<schema>/<table>` (posthog_raw/events, posthog_rules/pattern_rules, ...), the same
keys the dlt and rules assets produce, so lineage runs from PostHog to the export without glue.
Error-severity dbt tests become blocking checks (dagster-dbt default), stopping downstream assets.
"""

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from ingestion.settings import WarehouseSettings
from orchestration.config import DBT_PROJECT_DIR
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource

log = logging.getLogger(__name__)
OWNERS = ["team:analytics-engineering"]
FOLDER_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}
DBT_OP_NAME = "posthog_dbt_models"
DAGSTER_TARGET = Path("target") / "dagster"


def _ensure_dbt_on_path() -> None:
    """`.venv/bin/dagster` or `.venv/bin/python` may run without the venv on PATH; dagster-dbt needs `dbt`."""
    venv_bin = os.path.dirname(sys.executable)
    if shutil.which("dbt") is None and os.path.exists(os.path.join(venv_bin, "dbt")):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")


_ensure_dbt_on_path()


class PostHogDbtTranslator(DagsterDbtTranslator):
    """Keys follow warehouse addresses (schema/table); groups follow model folders."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        name = dbt_resource_props["name"]
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props.get("schema") or dbt_resource_props["source_name"], name])
        schema = dbt_resource_props.get("schema") or dbt_resource_props.get("config", {}).get("schema")
        return dg.AssetKey([schema, name]) if schema else dg.AssetKey([name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        folder = fqn[1] if len(fqn) > 2 else None
        return FOLDER_GROUPS.get(folder or "", folder or "dbt")

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        # Rebuild a model once its upstream assets were updated outside a full-graph run
        # (e.g. rules edited and materialized alone from the UI).
        return dg.AutomationCondition.eager()


def dbt_project() -> DbtProject | None:
    """The dbt project with a manifest ready to read, or None when dbt_project/ is absent."""
    if not (DBT_PROJECT_DIR / "dbt_project.yml").exists():
        log.warning("no dbt project at %s; dbt assets are not defined", DBT_PROJECT_DIR)
        return None
    # A target folder of our own: people running `dbt` by hand in target/ never block the code location.
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=DAGSTER_TARGET
    )
    project.prepare_if_dev()
    if _manifest_stale(project):
        # Outside `dagster dev` (CLI, tests, a fresh clone) nothing else would run `dbt parse`. Two
        # processes starting at once (code server and a run worker, parallel tests) parse one at a time,
        # so neither reads a manifest the other is half-way through writing.
        lock_path = Path(project.project_dir) / Path(project.target_path) / ".prepare.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _manifest_stale(project):
                project.preparer.prepare(project)
    return project


def _manifest_stale(project: DbtProject) -> bool:
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for folder in ("models", "macros", "tests", "seeds", "snapshots"):
        root = Path(project.project_dir) / folder
        if root.exists() and any(p.stat().st_mtime > built for p in root.rglob("*") if p.is_file()):
            return True
    return any(
        (Path(project.project_dir) / f).stat().st_mtime > built
        for f in ("dbt_project.yml", "profiles.yml")
        if (Path(project.project_dir) / f).exists()
    )


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
_ENV_VAR_NAME = re.compile(r"env_var\(\s*['\"]([A-Za-z0-9_]+)['\"]")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)


def parse_state_key(project_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """A digest of the settings dbt's partial parsing depends on beyond the files themselves.

    dbt throws its saved parse state away when the profile's connection values (DUCKDB_PATH, the
    target...) or the env vars read by dbt_project.yml differ from the run that saved it. One saved
    state per combination of those values lets every warehouse keep its own.
    """
    env = os.environ if env is None else env
    names: set[str] = set()
    for name in ("profiles.yml", "dbt_project.yml"):
        path = project_dir / name
        if path.exists():
            names.update(_ENV_VAR_NAME.findall(path.read_text()))
    names.update(("DBT_TARGET", "WAREHOUSE"))
    text = "\n".join(f"{n}={env.get(n, '')}" for n in sorted(names) if not _SECRET_NAME.search(n))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def invocation_target_path(project: DbtProject, run_id: str) -> Path:
    """A fresh target folder for one `dbt build`, seeded with a saved partial-parse state.

    dagster-dbt gives every invocation a new, empty target folder, so dbt found no
    partial_parse.msgpack and re-parsed the whole project on every run. The state the last run with
    the same settings left (see `save_partial_parse`), else the one `prepare` wrote, is copied in, so
    dbt only re-parses what changed. dbt itself still checks that the state fits (files, env vars,
    --vars, profile, dbt version) and parses in full when it does not.
    """
    root = Path(project.project_dir) / Path(project.target_path)
    target = root / "runs" / f"{run_id[:8]}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True, exist_ok=True)
    keyed = root / "parse_states" / f"{parse_state_key(Path(project.project_dir))}.msgpack"
    for seed in (keyed, root / PARTIAL_PARSE_FILE):
        if seed.exists():
            shutil.copy2(seed, target / PARTIAL_PARSE_FILE)
            break
    return target


def save_partial_parse(project: DbtProject, target: Path, keep_runs: int = 5, keep_states: int = 20) -> None:
    """Keep the state dbt wrote for the next run with the same settings; prune old run folders."""
    root = Path(project.project_dir) / Path(project.target_path)
    produced = target / PARTIAL_PARSE_FILE
    states = root / "parse_states"
    if produced.exists():
        states.mkdir(parents=True, exist_ok=True)
        tmp = states / f".{uuid.uuid4().hex[:7]}.tmp"
        shutil.copy2(produced, tmp)
        os.replace(tmp, states / f"{parse_state_key(Path(project.project_dir))}.msgpack")
    _keep_newest(sorted((root / "runs").glob("*")), keep_runs)
    _keep_newest(sorted(states.glob("*.msgpack")), keep_states)


def _keep_newest(paths: list[Path], keep: int) -> None:
    for old in sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def pin_warehouse_env(warehouse: WarehouseResource) -> WarehouseSettings:
    """dbt runs with the dbt project as working directory: hand it the warehouse as absolute settings.

    The dbt subprocess inherits this environment: WAREHOUSE and DBT_TARGET pick the profile target, and
    on spark every SPARK_* setting is passed as an absolute value (the session JVM runs inside dbt).
    """
    ws = warehouse.settings()
    os.environ["WAREHOUSE"] = ws.kind
    if ws.dbt_target:
        os.environ["DBT_TARGET"] = ws.dbt_target
    else:
        os.environ.pop("DBT_TARGET", None)  # the profile then follows WAREHOUSE
    os.environ["DUCKDB_PATH"] = str(ws.duckdb_path.expanduser().resolve())
    if ws.kind == "spark":
        os.environ.update(ws.spark_env())
        log4j = DBT_PROJECT_DIR / "spark" / "log4j2.properties"
        if log4j.is_file() and not os.environ.get("SPARK_LOG4J_CONFIG", "").strip():
            os.environ["SPARK_LOG4J_CONFIG"] = str(log4j)
        for folder in ("tmp", "warehouse"):
            (ws.spark_dir / folder).mkdir(parents=True, exist_ok=True)
    return ws


@contextlib.contextmanager
def dbt_session(ws: WarehouseSettings) -> Iterator[None]:
    """At most one dbt process per SPARK_DATA_DIR: the session JVM runs inside dbt and the Derby metastore
    under SPARK_DATA_DIR admits one JVM. Dagster's `warehouse` pool already runs one writing step at a
    time; this lock also covers a second Dagster instance or CLI run on the same folder (bounded wait,
    WAREHOUSE_LOCK_WAIT_SECONDS, then a clear error). Other warehouses need no lock here."""
    if ws.kind != "spark" or ws.target == "spark_thrift":
        yield
        return
    from ingestion.pipeline import file_lock, lock_wait_seconds

    with file_lock(
        ws.spark_dir / "dbt.lock", f"another dbt build on Spark ({ws.spark_dir})", lock_wait_seconds()
    ):
        yield


class DbtBuildConfig(dg.Config):
    """full_refresh rebuilds incremental models from scratch (daily run); start/end bound a backfill."""

    full_refresh: bool = False
    backfill_start: str | None = None
    backfill_end: str | None = None


def dbt_args(config: DbtBuildConfig) -> list[str]:
    # Unit tests check the SQL itself (they run in CI and `dbt build` by hand); scheduled runs skip
    # them, which saves ~20 s a run. Data tests still run and block downstream assets.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        args.append("--full-refresh")
    dbt_vars = {
        k: v
        for k, v in (("backfill_start", config.backfill_start), ("backfill_end", config.backfill_end))
        if v
    }
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    return args


TRANSLATOR = PostHogDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        name=DBT_OP_NAME,
        pool=WAREHOUSE_POOL,
    )
    def posthog_dbt_models(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        config: DbtBuildConfig,
    ):
        """`dbt build` of the selected models; tests report as asset checks."""
        ws = pin_warehouse_env(warehouse)
        target = invocation_target_path(project, context.run.run_id)
        with dbt_session(ws):
            yield from dbt.cli(dbt_args(config), context=context, target_path=target).stream()
        save_partial_parse(project, target)

    return posthog_dbt_models


class PostHogDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without the in-process dbt adapter.

    Before every `dbt build`, DbtCliResource.cli() loads the profile and parses all ~620 macros of the
    project in the Dagster process (~10 s on two cores) to hand an adapter handle to
    `fetch_row_counts()` / `fetch_column_metadata()`, which this project does not call; dbt itself
    runs in its own subprocess either way. Without the handle the events stream as dbt emits them.
    Both overrides touch private dagster-dbt hooks: if a release renames them they are simply unused.
    """

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:  # noqa: ARG002 (dagster-dbt hook)
        return None

    @cached_property
    def _cli_version(self) -> Any:
        """The installed dbt-core's version, read from its metadata instead of running `dbt --version`
        in a subprocess before every build (~6 s: it imports all of dbt)."""
        from packaging.version import parse

        return parse(importlib.metadata.version("dbt-core"))


def defs(project: DbtProject | None) -> dg.Definitions:
    if project is None:
        return dg.Definitions(resources={"dbt": dg.ResourceDefinition.none_resource()})
    return dg.Definitions(
        assets=[build_dbt_assets(project)],
        resources={"dbt": PostHogDbtCliResource(project_dir=project)},
    )
