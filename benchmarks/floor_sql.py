"""Floor (b): one DuckDB SQL pass over the raw events computing sessions and per-person counts.

It reads the same batch-export Parquet files the files path loads, splits each person's events into
sessions on a 30-minute gap and counts events and sessions per person. Nothing a warehouse build does
can be cheaper than this, so the files path is compared with it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import duckdb
import orjson

_SQL = """
with ev as (
    select coalesce(person_id::varchar, distinct_id) as who, timestamp::timestamptz as ts, event
    from read_parquet($files)
),
marked as (
    select who, ts, event,
        case when lag(ts) over (partition by who order by ts) is null
              or ts - lag(ts) over (partition by who order by ts) > interval 30 minute
             then 1 else 0 end as starts_session
    from ev
),
numbered as (
    select who, ts, event, sum(starts_session) over (partition by who order by ts
        rows between unbounded preceding and current row) as session_no
    from marked
),
sessions as (
    select who, session_no, min(ts) as started_at, max(ts) as ended_at, count(*) as events,
           count(*) filter (where event = '$pageview') as pageviews
    from numbered group by all
)
select count(*) as persons, sum(sessions) as sessions, sum(events) as events
from (select who, count(*) as sessions, sum(events) as events from sessions group by who)
"""


def sessions_pass(files_glob: str, threads: int | None = None) -> dict[str, Any]:
    """Run the pass in a fresh in-memory DuckDB; seconds exclude interpreter start-up."""
    started = time.perf_counter()
    con = duckdb.connect()
    if threads:
        con.execute(f"set threads = {int(threads)}")
    persons, sessions, events = con.execute(_SQL, {"files": files_glob}).fetchone()
    seconds = time.perf_counter() - started
    con.close()
    return {"persons": persons, "sessions": sessions, "events": events, "seconds": round(seconds, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", required=True, help="glob of batch-export Parquet files")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    sys.stdout.write(orjson.dumps(sessions_pass(args.files, args.threads)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
