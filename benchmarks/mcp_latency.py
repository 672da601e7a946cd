"""MCP tool-call latency: `get_user_context` over stdio against an export of 100k synthetic persons.

    .venv/bin/python -m benchmarks.mcp_latency [--persons 100000] [--calls 2000]

Builds the export once through the real `serving.export_writer.write_export` (kept under
benchmarks/results/raw/, reused while its size matches), starts `python -m serving.mcp_server
--transport stdio` with the SDK's client, and records:
  - client-side round trip per call (JSON-RPC over the pipes, both formats), p50/p95/p99;
  - server-side time inside the tool (reported by the server in the result's `_meta`), p50/p95;
  - in-process lookup time of `ExportSnapshot.get`, and the export's load time and size.
Writes benchmarks/results/mcp_latency.json and prints a short table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from serving.export_writer import write_export  # noqa: E402
from serving.mcp_server import SERVER_MS_META_KEY  # noqa: E402
from serving.store import ExportStore, load_snapshot  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
AS_OF = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)

PAGES = [
    "/",
    "/products",
    "/products/x1-drone",
    "/products/x2-pro",
    "/cart",
    "/checkout",
    "/checkout/payment",
    "/pricing",
    "/support",
    "/account",
]
LABELS = [
    "Viewed {p} page",
    "Clicked 'Add to cart' button on {p}",
    "Scrolled {p}",
    "Clicked navigation link on {p}",
    "Submitted form on {p}",
]
PATTERNS = [
    ("checkout_abandoned", "HIGH", "Started checkout but did not place an order"),
    ("rage_click", "MEDIUM", "Clicked the same element repeatedly in frustration"),
    ("price_comparison", "LOW", "Compared prices of several products"),
]
COHORTS = [
    ("1", "Drone buyers"),
    ("2", "Returning visitors"),
    ("rules:mobile", "Mobile users"),
    ("rules:eu", "EU visitors"),
]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def synthetic_context(persons: int, events_per_person: int = 20, seed: int = 7) -> pa.Table:
    """`user_context` rows shaped like the pipeline's (contract columns, JSON as text)."""
    rnd = random.Random(seed)
    cols: dict[str, list[Any]] = {
        name: []
        for name in (
            "person_id",
            "project_id",
            "distinct_ids",
            "recent_events",
            "last_session_id",
            "last_session_summary",
            "patterns",
            "cohorts",
            "first_seen",
            "last_seen",
            "session_count",
            "event_count",
            "device_type",
            "browser",
            "country",
            "context_as_of",
            "prompt_text",
        )
    }
    for i in range(persons):
        pid = f"0190{i:08x}-7b1e-7c3e-9a51-{rnd.getrandbits(48):012x}"
        last = AS_OF - timedelta(seconds=rnd.randint(60, 7 * 86400))
        session = f"s-{i}-{rnd.getrandbits(24):06x}"
        events = []
        for n in range(events_per_person):
            page = rnd.choice(PAGES)
            events.append(
                {
                    "label": rnd.choice(LABELS).format(p=page),
                    "event_type": "pageview",
                    "action_type": "view",
                    "event_name": "$pageview",
                    "timestamp": _iso(last - timedelta(seconds=40 * n)),
                    "page": page,
                    "session_id": session,
                    "sequence_number": events_per_person - n,
                    "uuid": f"e-{i}-{n}",
                }
            )
        patterns = []
        for code, sev, desc in rnd.sample(PATTERNS, rnd.choice([0, 0, 1, 2])):
            ev = events[: rnd.randint(1, 3)]
            patterns.append(
                {
                    "code": code,
                    "severity": sev,
                    "description": desc,
                    "session_id": session,
                    "matched_count": len(ev),
                    "first_at": ev[-1]["timestamp"],
                    "last_at": ev[0]["timestamp"],
                    "evidence": [{"uuid": e["uuid"], "at": e["timestamp"], "label": e["label"]} for e in ev],
                }
            )
        cohorts = [{"id": c, "name": n} for c, n in rnd.sample(COHORTS, rnd.choice([0, 1, 2]))]
        summary = f"Visited {len({e['page'] for e in events})} pages, ended on {events[0]['page']}"
        prompt = "\n".join(
            [f"User {pid}, last seen {_iso(last)}. Last session: {summary}."]
            + [f"- {e['timestamp']} {e['label']}" for e in events]
            + [f"Pattern {p['code']} ({p['severity']}): {p['description']}" for p in patterns]
        )
        for name, value in (
            ("person_id", pid),
            ("project_id", 1),
            ("distinct_ids", json.dumps([f"user-{i}", f"anon-{i:x}"])),
            ("recent_events", json.dumps(events)),
            ("last_session_id", session),
            ("last_session_summary", summary),
            ("patterns", json.dumps(patterns)),
            ("cohorts", json.dumps(cohorts)),
            ("first_seen", last - timedelta(days=rnd.randint(0, 60))),
            ("last_seen", last),
            ("session_count", rnd.randint(1, 30)),
            ("event_count", rnd.randint(events_per_person, 500)),
            ("device_type", rnd.choice(["Desktop", "Mobile"])),
            ("browser", rnd.choice(["Chrome", "Safari"])),
            ("country", rnd.choice(["DE", "US", "FR"])),
            ("context_as_of", AS_OF),
            ("prompt_text", prompt),
        ):
            cols[name].append(value)
    ts = pa.timestamp("us", tz="UTC")
    types = {
        "project_id": pa.int64(),
        "session_count": pa.int64(),
        "event_count": pa.int64(),
        "first_seen": ts,
        "last_seen": ts,
        "context_as_of": ts,
    }
    return pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in cols.items()})


def ensure_export(export_dir: Path, persons: int, rebuild: bool) -> dict[str, Any]:
    current = export_dir / "current"
    if not rebuild and current.exists():
        manifest = json.loads((current / "manifest.json").read_text())
        if manifest.get("row_count") == persons and manifest.get("source", {}).get("kind") == "mcp_latency":
            reused: dict[str, Any] = {"reused": True, "manifest": manifest}
            previous = RESULTS / "mcp_latency.json"
            if previous.exists():  # keep the build figures measured when this export was written
                old = json.loads(previous.read_text()).get("export", {})
                if old.get("version") == manifest.get("version"):
                    for key in ("generate_seconds", "write_export_seconds"):
                        reused[key] = old.get(key)
            return reused
    started = time.perf_counter()
    table = synthetic_context(persons)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    manifest = write_export(
        table,
        export_dir,
        redact_keys={"email"},
        as_of=AS_OF,
        keep_versions=1,
        source={"kind": "mcp_latency", "persons": persons},
    )
    return {
        "reused": False,
        "manifest": manifest,
        "generate_seconds": round(generated, 2),
        "write_export_seconds": round(time.perf_counter() - started, 2),
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def measure_stdio(export_dir: Path, ids: list[str], calls: int) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "serving.mcp_server", "--transport", "stdio"],
        cwd=str(REPO),
        env={"EXPORT_DIR": str(export_dir), "PYTHONPATH": str(REPO)},
    )
    out: dict[str, Any] = {}
    started = time.perf_counter()
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                first = await session.call_tool("get_user_context", {"user_id": ids[0]})
                assert not first.is_error, first.content
                out["startup_to_first_answer_seconds"] = round(time.perf_counter() - started, 2)
                for fmt in ("prompt", "json"):
                    for i in range(50):  # warm-up
                        await session.call_tool("get_user_context", {"user_id": ids[i], "format": fmt})
                    client_ms, server_ms, sizes = [], [], []
                    for i in range(calls):
                        user_id = ids[(i * 7919) % len(ids)]
                        t0 = time.perf_counter()
                        res = await session.call_tool("get_user_context", {"user_id": user_id, "format": fmt})
                        client_ms.append((time.perf_counter() - t0) * 1000)
                        assert not res.is_error, res.content
                        server_ms.append(float((res.meta or {})[SERVER_MS_META_KEY]))
                        sizes.append(len(res.content[0].text))
                    out[fmt] = {
                        "calls": calls,
                        "client_round_trip_ms": {
                            "p50": pct(client_ms, 0.5),
                            "p95": pct(client_ms, 0.95),
                            "p99": pct(client_ms, 0.99),
                            "mean": round(statistics.mean(client_ms), 3),
                        },
                        "server_side_ms": {
                            "p50": pct(server_ms, 0.5),
                            "p95": pct(server_ms, 0.95),
                            "p99": pct(server_ms, 0.99),
                        },
                        "answer_chars_mean": round(statistics.mean(sizes)),
                    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--export-dir", type=Path, default=RESULTS / "raw" / "mcp_export")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS / "mcp_latency.json")
    args = parser.parse_args(argv)

    build = ensure_export(args.export_dir, args.persons, args.rebuild)
    version_dir = (args.export_dir / "current").resolve()
    t0 = time.perf_counter()
    snap = load_snapshot(version_dir)
    load_seconds = time.perf_counter() - t0
    rnd = random.Random(1)
    person_ids = snap._table.column("person_id").to_pylist()  # noqa: SLF001 - benchmark picks real ids
    ids = [pid if rnd.random() < 0.5 else f"user-{n}" for n, pid in enumerate(person_ids)]
    rnd.shuffle(ids)
    lookups = []
    for user_id in ids[:5000]:
        t = time.perf_counter()
        assert snap.get(user_id) is not None
        lookups.append((time.perf_counter() - t) * 1000)
    del snap
    assert ExportStore(args.export_dir).snapshot().row_count == args.persons

    stdio = anyio.run(measure_stdio, args.export_dir, ids, args.calls)
    export_bytes = sum(f.stat().st_size for f in version_dir.rglob("*") if f.is_file())
    result = {
        "benchmark": "mcp_latency",
        "measured_at": _iso(datetime.now(UTC).replace(microsecond=0)),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "persons": args.persons,
        "export": {
            "version": build["manifest"].get("version"),
            "reused": build["reused"],
            "generate_seconds": build.get("generate_seconds"),
            "write_export_seconds": build.get("write_export_seconds"),
            "bytes_on_disk": export_bytes,
            "store_load_seconds": round(load_seconds, 2),
        },
        "in_process_get_ms": {"p50": pct(lookups, 0.5), "p95": pct(lookups, 0.95)},
        "stdio": stdio,
        "target": {
            "server_side_p50_ms": 5.0,
            "met": stdio["prompt"]["server_side_ms"]["p50"] <= 5.0
            and stdio["json"]["server_side_ms"]["p50"] <= 5.0,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    get_p50 = result["in_process_get_ms"]["p50"]
    print(f"persons={args.persons} export load={load_seconds:.2f}s in-process get p50={get_p50} ms")
    for fmt in ("prompt", "json"):
        s = stdio[fmt]
        client, server = s["client_round_trip_ms"], s["server_side_ms"]
        print(
            f"{fmt:6s} client p50={client['p50']} p95={client['p95']} ms; "
            f"server p50={server['p50']} p95={server['p95']} ms"
        )
    print(f"written {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
