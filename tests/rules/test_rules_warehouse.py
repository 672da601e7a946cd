"""Rules loaded by dlt into a real DuckDB file: tables and counts, replaced on reload, inert values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingestion.settings import WarehouseSettings
from rules.load import load_rules_to_warehouse
from rules.loader import load_rules
from rules.tables import TABLE_NAMES, rule_tables


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'posthog_rules' and table_name not like '\\_dlt%' escape '\\'"
            ).fetchall()
        ]
        return {
            name: con.execute(f'select count(*) from posthog_rules."{name}"').fetchone()[0] for name in names
        }


@pytest.fixture
def warehouse(tmp_path: Path) -> WarehouseSettings:
    return WarehouseSettings(duckdb_path=tmp_path / "wh" / "warehouse.duckdb")


def test_load_reload_after_edit_and_empty_tables(rules_dir: Path, warehouse: WarehouseSettings) -> None:
    ruleset = load_rules(rules_dir)
    expected = {name: table.num_rows for name, table in rule_tables(ruleset).items()}
    assert load_rules_to_warehouse(ruleset, warehouse) == expected
    assert counts(warehouse.duckdb_path) == expected
    assert (warehouse.duckdb_path.parent / ".dlt_pipelines" / "posthog_rules").is_dir()

    # Edit the rules: one pattern, one label left, no cohorts. The next load replaces every table.
    (rules_dir / "patterns.yaml").write_text(
        "patterns:\n  - code: only_rule\n    severity: MEDIUM\n    description: Edited.\n"
        "    match: {event_name: [a, b]}\n    min_count: 4\n",
        encoding="utf-8",
    )
    (rules_dir / "labels.yaml").write_text(
        'labels:\n  product_clicked: "Picked {product_name}"\n', encoding="utf-8"
    )
    (rules_dir / "cohorts.yaml").write_text("cohorts: []\n", encoding="utf-8")
    edited = load_rules(rules_dir)
    load_rules_to_warehouse(edited, warehouse)
    after = counts(warehouse.duckdb_path)
    assert after["pattern_rules"] == 1 and after["pattern_filters"] == 2
    assert after["label_templates"] == 1 and after["label_template_parts"] == 2
    assert after["cohort_definitions"] == 0 and after["cohort_filter_nodes"] == 0
    assert after["event_classification"] == expected["event_classification"]
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        assert con.execute(
            "select code, min_count, severity from posthog_rules.pattern_rules"
        ).fetchall() == [("only_rule", 4, "MEDIUM")]
        # Emptied tables keep their columns, so SQL joining them still runs.
        columns = con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'posthog_rules' and table_name = 'cohort_filter_nodes'"
        ).fetchall()
        assert {"cohort_ref", "window_seconds", "unsupported_reason"} <= {c[0] for c in columns}


def test_first_load_of_empty_rules_creates_every_table(
    empty_rules_dir: Path, warehouse: WarehouseSettings
) -> None:
    load_rules_to_warehouse(load_rules(empty_rules_dir), warehouse)
    assert counts(warehouse.duckdb_path) == dict.fromkeys(TABLE_NAMES, 0)
    # ... and a later load with rules fills the same tables.
    load_rules_to_warehouse(load_rules(Path(__file__).resolve().parents[2] / "rules"), warehouse)
    assert all(count > 0 for count in counts(warehouse.duckdb_path).values())


HOSTILE_EVENT = "x'; drop table posthog_rules.page_names; --"
HOSTILE_TEMPLATE = "Clicked {{ config() }} '; drop table x; -- {product_name}"


def test_hostile_rule_values_are_stored_as_plain_text(rules_dir: Path, warehouse: WarehouseSettings) -> None:
    (rules_dir / "labels.yaml").write_text(
        f'labels:\n  "{HOSTILE_EVENT}": "{HOSTILE_TEMPLATE}"\n', encoding="utf-8"
    )
    (rules_dir / "pages.yaml").write_text(
        'pages:\n  - {prefix: "/a\';drop", name: "{{ config(materialized=\'table\') }} page"}\n',
        encoding="utf-8",
    )
    (rules_dir / "patterns.yaml").write_text(
        'patterns:\n  - code: hostile\n    severity: LOW\n    description: "\'); delete from x; --"\n'
        '    match: {label_contains: ["{{ var(\'x\') }}", "\' or 1=1 --"]}\n',
        encoding="utf-8",
    )
    load_rules_to_warehouse(load_rules(rules_dir), warehouse)
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        assert con.execute("select event_name, template from posthog_rules.label_templates").fetchall() == [
            (HOSTILE_EVENT, HOSTILE_TEMPLATE)
        ]
        parts = con.execute(
            "select part_kind, value from posthog_rules.label_template_parts order by part_index"
        ).fetchall()
        assert parts == [
            ("text", "Clicked {{ config() }} '; drop table x; -- "),
            ("property", "product_name"),
        ]
        assert con.execute("select path, page_name from posthog_rules.page_names").fetchall() == [
            ("/a';drop", "{{ config(materialized='table') }} page")
        ]
        assert con.execute("select description from posthog_rules.pattern_rules").fetchone() == (
            "'); delete from x; --",
        )
        values = {r[0] for r in con.execute("select value from posthog_rules.pattern_filters").fetchall()}
        assert values == {"{{ var('x') }}", "' or 1=1 --"}
    assert counts(warehouse.duckdb_path)["page_names"] == 1  # the table is still there


@pytest.mark.postgres
def test_load_into_a_real_postgres_server(rules_dir: Path, empty_rules_dir: Path, tmp_path: Path) -> None:
    """Same tables and counts on PostgreSQL; emptied tables keep their columns; hostile text stays text."""
    psycopg2 = pytest.importorskip("psycopg2")
    from pg_server import find_bin_dir, postgres_server
    from pydantic import SecretStr

    if find_bin_dir() is None:
        pytest.skip("PostgreSQL binaries not installed")
    (rules_dir / "labels.yaml").write_text(
        f'labels:\n  "{HOSTILE_EVENT}": "{HOSTILE_TEMPLATE}"\n', encoding="utf-8"
    )
    ruleset = load_rules(rules_dir)
    expected = {name: table.num_rows for name, table in rule_tables(ruleset).items()}
    with postgres_server() as server:
        ws = WarehouseSettings(
            kind="postgres",
            duckdb_path=tmp_path / "unused.duckdb",
            pg_host=server.host,
            pg_port=server.port,
            pg_user=server.user,
            pg_password=SecretStr(server.env()["PGPASSWORD"]) if server.env().get("PGPASSWORD") else None,
            pg_database=server.database,
            pipelines_dir=tmp_path / ".dlt_pipelines",
        )
        assert load_rules_to_warehouse(ruleset, ws) == expected

        def pg_counts() -> dict[str, int]:
            with psycopg2.connect(ws.postgres_dsn()) as conn, conn.cursor() as cur:
                out = {}
                for name in TABLE_NAMES:
                    cur.execute(f'select count(*) from posthog_rules."{name}"')
                    out[name] = cur.fetchone()[0]
                cur.execute("select template from posthog_rules.label_templates")
                assert cur.fetchall() == [(HOSTILE_TEMPLATE,)]
                return out

        assert pg_counts() == expected
        load_rules_to_warehouse(load_rules(empty_rules_dir), ws)
        with psycopg2.connect(ws.postgres_dsn()) as conn, conn.cursor() as cur:
            for name in TABLE_NAMES:
                cur.execute(f'select count(*) from posthog_rules."{name}"')
                assert cur.fetchone()[0] == 0, name


def test_a_new_column_in_a_later_release_loads_over_an_old_warehouse(
    rules_dir: Path, warehouse: WarehouseSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    from rules import tables

    ruleset = load_rules(rules_dir)
    load_rules_to_warehouse(ruleset, warehouse)
    grown = tables.SCHEMAS["privacy_redactions"].append(pa.field("added_later", pa.string()))
    monkeypatch.setitem(tables.SCHEMAS, "privacy_redactions", grown)
    load_rules_to_warehouse(ruleset, warehouse)
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        columns = con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'posthog_rules' and table_name = 'privacy_redactions'"
        ).fetchall()
    assert ("added_later",) in columns
