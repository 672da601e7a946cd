"""Run the demo PostHog API standalone: `python -m ingestion.demo_api --port 8010`."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from datetime import UTC, datetime

from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion.demo_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DEMO_SEED", "7")))
    parser.add_argument("--users", type=int, default=int(os.environ.get("DEMO_USERS", "200")))
    parser.add_argument("--days", type=int, default=int(os.environ.get("DEMO_DAYS", "7")))
    parser.add_argument("--events", type=int, default=0, help="serve N scaled benchmark events instead")
    parser.add_argument("--drone-shop", default=None, help="serve a PostHog JSON export file instead")
    parser.add_argument("--project-id", type=int, action="append", dest="project_ids")
    parser.add_argument("--timezone", default="UTC", help="project time zone used for returned datetimes")
    parser.add_argument("--live-rate", type=float, default=0.0, help="append this many new events per second")
    parser.add_argument("--api-key", default="phx_demo_key")
    args = parser.parse_args(argv)
    project_ids = tuple(args.project_ids or [1])
    end = datetime.now(UTC)
    if args.drone_shop:
        store = DemoStore.from_drone_shop(args.drone_shop, project_id=project_ids[0])
    elif args.events:
        store = DemoStore.generate_scaled(args.events, seed=args.seed, end=end, project_id=project_ids[0])
    else:
        store = DemoStore.generate(
            seed=args.seed, users=args.users, days=args.days, end=end, project_ids=project_ids
        )
    server = DemoPostHog(
        store,
        api_key=args.api_key,
        project_ids=project_ids,
        host=args.host,
        port=args.port,
        timezone=args.timezone,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        if args.live_rate > 0:
            store.start_live(args.live_rate)
        print(
            f"Demo PostHog API at {server.url} (projects {', '.join(map(str, project_ids))}), "
            f"{store.event_count()} events"
        )
        print(f"  export POSTHOG_HOST={server.url} POSTHOG_PERSONAL_API_KEY={args.api_key}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            store.stop_live()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
