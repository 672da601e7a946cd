"""Command line: ``python -m rules check [DIR]`` validates a rules folder; ``load [DIR]`` writes it.

``check`` prints a one-line summary per file or every problem found (exit status 1), so it can run in CI
or a pre-commit hook before a rule change reaches the pipeline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rules.loader import RulesError, default_rules_dir, load_rules
from rules.models import RuleSet
from rules.tables import rule_tables


def summary(ruleset: RuleSet) -> list[str]:
    """Human summary of what a rule set contains."""
    tables = rule_tables(ruleset)
    lines = [f"rules folder {ruleset.source}: OK"]
    lines.append(
        f"  classification.yaml: {len(ruleset.classification.events)} event rules, "
        f"{len(ruleset.classification.autocapture_event_types)} $autocapture rules, "
        f"{len(ruleset.classification.keywords)} keyword rules"
    )
    lines.append(f"  pages.yaml: {len(ruleset.pages.pages)} page rules")
    lines.append(f"  labels.yaml: {len(ruleset.labels.labels)} label templates")
    lines.append(f"  elements.yaml: {len(ruleset.elements.elements)} element rules")
    enabled = sum(1 for p in ruleset.patterns.patterns if p.enabled)
    lines.append(f"  patterns.yaml: {len(ruleset.patterns.patterns)} patterns ({enabled} enabled)")
    lines.append(
        f"  cohorts.yaml: {len(ruleset.cohorts.cohorts)} cohorts, "
        f"{tables['cohort_filter_nodes'].num_rows} filter nodes"
    )
    lines.append(f"  privacy.yaml: {len(ruleset.privacy.redact)} redacted properties")
    lines += [f"  warning: {warning}" for warning in ruleset.warnings]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rules", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("check", "validate the rule files"),
        ("load", "validate, then load into the warehouse"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "rules_dir", nargs="?", type=Path, default=None, help="default: $RULES_DIR or ./rules"
        )
        cmd.add_argument("--strict", action="store_true", help="treat warnings as errors (exit status 1)")
    args = parser.parse_args(argv)
    folder = args.rules_dir or default_rules_dir()
    try:
        ruleset = load_rules(folder)
    except RulesError as exc:
        print(exc, file=sys.stderr)
        return 1
    print("\n".join(summary(ruleset)))
    if args.strict and ruleset.warnings:
        print(f"{len(ruleset.warnings)} warning(s) and --strict: failing", file=sys.stderr)
        return 1
    if args.command == "load":
        from ingestion.settings import WarehouseSettings
        from rules.load import load_rules_to_warehouse

        ws = WarehouseSettings.from_env()
        counts = load_rules_to_warehouse(ruleset, ws)
        print(
            f"loaded into {ws.describe()}, dataset posthog_rules: "
            + ", ".join(f"{k}={v}" for k, v in counts.items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
