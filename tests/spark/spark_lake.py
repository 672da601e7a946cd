"""Copy a DuckDB warehouse's raw tables into a lake folder laid out like dlt's filesystem destination.

Layout (see the Spark contract): <lake>/<dataset>/<table>/<load_id>.<file_id>.parquet for the datasets
posthog_raw and posthog_rules. Every row carries `_dlt_load_id` (text); tables loaded from Arrow have
none in DuckDB, so `load_id` is added. `duplicate_events` writes a second events file with a higher
load id holding copies of some events, so staging has something to de-duplicate.

    python tests/spark/spark_lake.py <warehouse.duckdb> <lake folder> [--duplicate-events N]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

DATASETS = ("posthog_raw", "posthog_rules")
FIRST_LOAD_ID = "1700000000.000001"
SECOND_LOAD_ID = "1700000001.000001"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_warehouse_to_lake(
    duckdb_path: Path | str,
    lake: Path | str,
    *,
    duplicate_events: int = 0,
    load_id: str = FIRST_LOAD_ID,
    replace: bool = True,
) -> dict[str, int]:
    """Write every posthog_raw / posthog_rules table (but dlt's own) as Parquet; returns rows per table."""
    import duckdb

    lake = Path(lake)
    counts: dict[str, int] = {}
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('posthog_raw', 'posthog_rules') "
            "and table_name not like '\\_dlt%' escape '\\' "
            "order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            folder = lake / schema / table
            if replace and folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True, exist_ok=True)
            columns = [row[0] for row in con.execute(f"describe {_quote(schema)}.{_quote(table)}").fetchall()]
            source = f"{_quote(schema)}.{_quote(table)}"
            extra = "" if "_dlt_load_id" in columns else f", '{load_id}' as _dlt_load_id"
            target = folder / f"{load_id}.{table}.parquet"
            con.execute(f"copy (select *{extra} from {source}) to '{target}' (format parquet)")
            counts[f"{schema}.{table}"] = con.execute(f"select count(*) from {source}").fetchall()[0][0]
            if table == "events" and duplicate_events > 0:
                later = folder / f"{SECOND_LOAD_ID}.{table}.parquet"
                later_id = f"'{SECOND_LOAD_ID}' as _dlt_load_id"
                replaced = ", ".join(later_id if c == "_dlt_load_id" else _quote(c) for c in columns)
                if "_dlt_load_id" not in columns:
                    replaced += f", '{SECOND_LOAD_ID}' as _dlt_load_id"
                con.execute(
                    f"copy (select {replaced} from {source} order by uuid limit {int(duplicate_events)}) "
                    f"to '{later}' (format parquet)"
                )
    finally:
        con.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("duckdb_path")
    parser.add_argument("lake")
    parser.add_argument("--duplicate-events", type=int, default=0)
    args = parser.parse_args()
    counts = copy_warehouse_to_lake(args.duckdb_path, args.lake, duplicate_events=args.duplicate_events)
    for table, rows in counts.items():
        print(f"{table}: {rows}")


if __name__ == "__main__":
    main()
