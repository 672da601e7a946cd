"""`posthog-context` console script: run the pipeline through Dagster, read the export, serve it.

Dagster is imported only by `run` and `backfill`, so the serving commands start fast and never load
the orchestration layer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

PIPELINE_JOB = "posthog_incremental"
BACKFILL_JOB = "posthog_backfill"


def _export_dir() -> Path:
    return Path(os.environ.get("EXPORT_DIR") or "./data/export")


def _instance() -> Any:
    """The persistent instance when DAGSTER_HOME is set (runs show in the UI), else an ephemeral one."""
    from dagster import DagsterInstance

    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


def _execute(job_name: str, run_config: dict[str, Any] | None = None) -> bool:
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    job = defs.resolve_job_def(job_name)
    with _instance() as instance:
        result = job.execute_in_process(instance=instance, run_config=run_config or {}, raise_on_error=False)
    if not result.success:
        for event in result.all_events:
            if event.is_failure and event.message:
                print(f"error: {event.message}", file=sys.stderr)
    return result.success


def _print_outputs(show_user: bool = True) -> None:
    from ingestion.settings import WarehouseSettings

    ws = WarehouseSettings.from_env()
    export_dir = _export_dir()
    print(f"warehouse: {ws.describe()}")
    print(f"export:    {export_dir / 'current'}")
    if not show_user:
        return
    from serving.store import ExportStore, ExportStoreError

    try:
        snap = ExportStore(export_dir).snapshot()
    except ExportStoreError as error:
        print(f"(no export to show: {error})")
        return
    print(f"export as of {snap.as_of_iso}: {snap.row_count} people")
    users = snap.find_users(limit=1)
    if users:
        user_id = str(users[0].get("person_id"))
        row = snap.get(user_id)
        print(f"\ncontext of person {user_id}:\n")
        print((row or {}).get("prompt_text") or json.dumps(row, indent=2, default=str))


def cmd_run(args: argparse.Namespace) -> int:
    ok = _execute(PIPELINE_JOB)
    if not ok:
        print("pipeline failed", file=sys.stderr)
        return 1
    _print_outputs()
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    config = {"ops": {"backfill_load": {"config": {"start": args.start, "end": args.end}}}}
    ok = _execute(BACKFILL_JOB, config)
    if not ok:
        print("backfill failed", file=sys.stderr)
        return 1
    _print_outputs(show_user=False)
    return 0


def cmd_context(args: argparse.Namespace) -> int:
    from serving.api import context_response
    from serving.store import ExportStore, ExportStoreError, InvalidUserId

    try:
        snap = ExportStore(_export_dir()).snapshot()
        row = snap.get(args.user_id)
    except InvalidUserId as error:
        print(f"invalid user id: {error}", file=sys.stderr)
        return 2
    except (ExportStoreError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if row is None:
        print(f"unknown user {args.user_id!r} in the export at {_export_dir()}", file=sys.stderr)
        return 1
    if args.format == "prompt":
        print(row.get("prompt_text") or "")
    else:
        print(json.dumps(context_response(row, args.user_id, snap.as_of_iso), indent=2, default=str))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from serving.api import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from serving.mcp_server import main as mcp_main

    return int(mcp_main(args.rest) or 0)


def cmd_demo_api(args: argparse.Namespace) -> int:
    from ingestion.demo_api.__main__ import main as demo_main

    return int(demo_main(args.rest) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posthog-context", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="materialize the whole asset graph through Dagster, then show the outputs")
    backfill = sub.add_parser("backfill", help="reload a date range from PostHog and rebuild (one run)")
    backfill.add_argument("--start", required=True, help="ISO date or date-time (UTC), inclusive")
    backfill.add_argument("--end", required=True, help="ISO date (inclusive day) or date-time (exclusive)")
    context = sub.add_parser("context", help="print one user's context from the export")
    context.add_argument("user_id", help="person id or any distinct id")
    context.add_argument("--format", choices=("json", "prompt"), default="json")
    serve = sub.add_parser("serve", help="serve the read API (uvicorn)")
    serve.add_argument("--host", default=os.environ.get("SERVING_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("SERVING_PORT", "8000")))
    for name, text in (
        ("mcp", "MCP server (stdio or HTTP)"),
        ("demo-api", "run the bundled demo PostHog API"),
    ):
        extra = sub.add_parser(name, help=text, add_help=False)
        extra.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


COMMANDS = {
    "run": cmd_run,
    "backfill": cmd_backfill,
    "context": cmd_context,
    "serve": cmd_serve,
    "mcp": cmd_mcp,
    "demo-api": cmd_demo_api,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("mcp", "demo-api"):
        # Hand every following argument (options included) to the sub-program untouched;
        # argparse.REMAINDER in a subparser does not capture leading options like --transport.
        return COMMANDS[argv[0]](argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
