"""Helpers shared by the ingestion tests (compare what the demo store holds with the warehouse)."""

from __future__ import annotations

from ingestion.demo_api.store import DemoStore
from ingestion.settings import WarehouseSettings
from ingestion.warehouse import read_table


def warehouse_uuids(ws: WarehouseSettings, project_id: int | None = None) -> list[str]:
    where = f" WHERE project_id = {int(project_id)}" if project_id is not None else ""
    return read_table(ws, f"SELECT uuid FROM posthog_raw.events{where}")["uuid"].to_pylist()


def store_uuids(store: DemoStore, project_id: int | None = None) -> set[str]:
    where = f" WHERE project_id = {int(project_id)}" if project_id is not None else ""
    rows = store.cursor().execute(f"SELECT CAST(uuid AS VARCHAR) FROM events{where}").fetchall()
    return {r[0] for r in rows}
