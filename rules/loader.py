"""Load and validate the rule folder; every mistake is reported with its file, rule and key.

All problems in all files are collected and raised together as one ``RulesError`` so a user fixes the
whole folder in one go instead of one error per run.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ingestion.posthog.cohort_filters import CohortFilterError, flatten_cohort
from rules.models import FILE_MODELS, CohortsFile, RuleModel, RuleSet
from rules.yaml_source import Loc, YamlDocument, YamlSyntaxError, read_yaml

# For each list section: which key names a rule in messages. Mapping sections are named by their key.
_RULE_NAME_KEYS = {
    "patterns": ("code", "pattern"),
    "cohorts": ("key", "cohort"),
    "pages": (("equals", "prefix"), "page rule"),
    "elements": ("attribute", "element rule"),
    "keywords": ("keyword", "keyword rule"),
}
_MAPPING_SECTIONS = {
    "events": "event",
    "autocapture_event_types": "autocapture $event_type",
    "labels": "label for event",
    "redact": "redacted property",
}


@dataclass(frozen=True)
class RuleIssue:
    file: str
    rule: str | None
    key: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts = [where]
        if self.rule:
            parts.append(self.rule)
        if self.key:
            parts.append(f"key '{self.key}'")
        return ", ".join(parts) + f": {self.message}"


class RulesError(ValueError):
    """The rule folder has mistakes; ``issues`` lists each one, the message shows them all."""

    def __init__(self, issues: list[RuleIssue], rules_dir: Path) -> None:
        self.issues = issues
        self.rules_dir = rules_dir
        lines = [f"{len(issues)} problem(s) in rule files under {rules_dir}:"]
        lines += [f"  - {issue}" for issue in issues]
        super().__init__("\n".join(lines))


def default_rules_dir() -> Path:
    """``RULES_DIR`` if set, else the rule files shipped with this package."""
    configured = os.environ.get("RULES_DIR", "").strip()
    return Path(configured) if configured else Path(__file__).resolve().parent


def _all_field_names() -> set[str]:
    names: set[str] = set()

    def collect(model: type[BaseModel]) -> None:
        for name, info in model.model_fields.items():
            names.add(name)
            for arg in _model_args(info.annotation):
                if arg.__name__ not in {m.__name__ for m in seen}:
                    seen.append(arg)
                    collect(arg)

    seen: list[type[BaseModel]] = []
    for model in FILE_MODELS.values():
        collect(model)
    return names


def _model_args(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic models mentioned anywhere inside a type annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out += _model_args(arg)
    return out


_KNOWN_FIELDS = _all_field_names()


def _rule_label(data: Any, loc: Loc) -> tuple[str | None, Loc]:
    """Human name of the rule addressed by ``loc`` and the rest of ``loc`` inside that rule."""
    if len(loc) < 2 or not isinstance(data, dict):
        return None, loc[1:] if loc and loc[0] in _MAPPING_SECTIONS else loc
    section, item = loc[0], loc[1]
    if section in _MAPPING_SECTIONS:
        return f"{_MAPPING_SECTIONS[section]} '{item}'", loc[2:]
    if section in _RULE_NAME_KEYS and isinstance(item, int):
        name_keys, noun = _RULE_NAME_KEYS[section]
        entries = data.get(section)
        entry = entries[item] if isinstance(entries, list) and item < len(entries) else None
        keys = name_keys if isinstance(name_keys, tuple) else (name_keys,)
        for key in keys:
            if isinstance(entry, dict) and isinstance(entry.get(key), str | int):
                return f"{noun} '{entry[key]}' ({section}[{item}])", loc[2:]
        return f"{noun} #{item + 1} ({section}[{item}])", loc[2:]
    return None, loc


def _key_text(loc: Loc) -> str | None:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or None


def _friendly(error: dict[str, Any], loc: Loc) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(name, sorted(_KNOWN_FIELDS), n=1)
        return "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")
    if kind == "missing":
        return "required key is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _validation_issues(file: str, doc: YamlDocument, exc: ValidationError) -> list[RuleIssue]:
    issues = []
    for error in exc.errors():
        loc: Loc = tuple(
            part for part in error["loc"] if not (isinstance(part, str) and part.startswith("["))
        )
        # Dict-key errors end in "[key]"; value types like "function-after[...]" are pydantic noise.
        loc = tuple(
            p for p in loc if not (isinstance(p, str) and ("[" in p and p.endswith("]") and "(" in p))
        )
        rule, rest = _rule_label(doc.data, loc)
        issues.append(RuleIssue(file, rule, _key_text(rest), _friendly(error, loc), doc.line_of(loc)))
    return issues


def _yaml_duplicates(file: str, doc: YamlDocument) -> list[RuleIssue]:
    """Keys written twice in one mapping (YAML would silently keep the last one)."""
    issues = []
    for loc, first, again in doc.duplicates:
        rule, rest = _rule_label(doc.data, loc)
        if not rest and rule is None:
            rest = loc
        issues.append(
            RuleIssue(
                file, rule, _key_text(rest) or None, f"duplicate key (first defined on line {first})", again
            )
        )
    return issues


def _check_duplicates(file: str, doc: YamlDocument, model: RuleModel) -> list[RuleIssue]:
    """Rules that must be unique by their code/key/keyword/path across the file."""
    issues: list[RuleIssue] = []

    def unique(section: str, values: list[tuple[int, str]], what: str) -> None:
        seen: dict[str, int] = {}
        for index, value in values:
            if value in seen:
                rule, _ = _rule_label(doc.data, (section, index))
                issues.append(
                    RuleIssue(
                        file,
                        rule,
                        None,
                        f"duplicate {what} {value!r} (already used by {section}[{seen[value]}])",
                        doc.line_of((section, index)),
                    )
                )
            else:
                seen[value] = index

    if file == "patterns.yaml":
        unique("patterns", [(i, p.code) for i, p in enumerate(model.patterns)], "code")  # type: ignore[attr-defined]
    elif file == "cohorts.yaml":
        unique("cohorts", [(i, c.key) for i, c in enumerate(model.cohorts)], "key")  # type: ignore[attr-defined]
    elif file == "pages.yaml":
        pages = model.pages  # type: ignore[attr-defined]
        unique("pages", [(i, f"{p.match_kind} {p.path}") for i, p in enumerate(pages)], "page rule")
    elif file == "elements.yaml":
        unique("elements", [(i, e.attribute.lower()) for i, e in enumerate(model.elements)], "attribute")  # type: ignore[attr-defined]
    elif file == "classification.yaml":
        unique("keywords", [(i, k.keyword) for i, k in enumerate(model.keywords)], "keyword")  # type: ignore[attr-defined]
    elif file == "privacy.yaml":
        keys = list(model.redact)  # type: ignore[attr-defined]
        seen: dict[str, str] = {}
        for key in keys:
            if key.lower() in seen:
                issues.append(
                    RuleIssue(
                        file,
                        f"redacted property '{key}'",
                        None,
                        f"duplicate of '{seen[key.lower()]}' (keys are matched case-insensitively)",
                        doc.line_of(("redact", key)),
                    )
                )
            else:
                seen[key.lower()] = key
    return issues


def _cohort_issues(
    doc: YamlDocument, cohorts: CohortsFile
) -> tuple[list[RuleIssue], dict[str, list[dict[str, Any]]]]:
    """Flatten each local cohort strictly, resolve references to other local cohorts, refuse cycles."""
    issues: list[RuleIssue] = []
    nodes: dict[str, list[dict[str, Any]]] = {}
    keys = {cohort.key for cohort in cohorts.cohorts}
    for index, cohort in enumerate(cohorts.cohorts):
        rule = f"cohort '{cohort.key}' (cohorts[{index}])"
        payload = {"name": cohort.name, "filters": cohort.filters.model_dump()}
        try:
            rows = flatten_cohort(payload, cohort.project_id, cohort.cohort_id, strict=True)
        except CohortFilterError as exc:
            key = "filters." + exc.path
            loc = ("cohorts", index, "filters", *_path_loc(exc.path))
            issues.append(RuleIssue("cohorts.yaml", rule, key, exc.detail, doc.line_of(loc)))
            continue
        for row in rows:
            ref = row.get("cohort_ref")
            if ref is None:
                continue
            local = ref.removeprefix("rules:")
            if local in keys:
                row["cohort_ref"] = f"rules:{local}"
            elif ref.startswith("rules:") or not ref.isdigit():
                issues.append(
                    RuleIssue(
                        "cohorts.yaml",
                        rule,
                        "filters.properties",
                        f"refers to cohort {ref!r}: not a cohort key in this file nor a PostHog cohort id",
                        doc.line_of(("cohorts", index, "filters")),
                    )
                )
        nodes[cohort.cohort_id] = rows
    issues += _cycle_issues(doc, cohorts, nodes)
    return issues, nodes


def _path_loc(path: str) -> Loc:
    out: list[str | int] = []
    for part in path.replace("]", "").split("."):
        name, _, rest = part.partition("[")
        out.append(name)
        for index in rest.split("[") if rest else []:
            out.append(int(index))
    return tuple(out)


def _cycle_issues(
    doc: YamlDocument, cohorts: CohortsFile, nodes: dict[str, list[dict[str, Any]]]
) -> list[RuleIssue]:
    refs = {
        cid: {r["cohort_ref"] for r in rows if (r.get("cohort_ref") or "").startswith("rules:")}
        for cid, rows in nodes.items()
    }
    issues = []
    for index, cohort in enumerate(cohorts.cohorts):
        start = cohort.cohort_id
        stack, seen = [start], set()
        while stack:
            current = stack.pop()
            for ref in refs.get(current, ()):
                if ref == start:
                    issues.append(
                        RuleIssue(
                            "cohorts.yaml",
                            f"cohort '{cohort.key}' (cohorts[{index}])",
                            "filters.properties",
                            "cohort references form a cycle back to itself",
                            doc.line_of(("cohorts", index)),
                        )
                    )
                    stack = []
                    break
                if ref not in seen:
                    seen.add(ref)
                    stack.append(ref)
    return issues


def _warnings(ruleset_parts: dict[str, Any]) -> list[str]:
    """Legal but suspicious: pattern filters naming types that no classification rule produces."""
    classification = ruleset_parts["classification.yaml"]
    event_types = {"custom"} | {c.event_type for c in classification.events.values()}
    event_types |= {c.event_type for c in classification.autocapture_event_types.values()}
    event_types |= {k.event_type for k in classification.keywords}
    action_types = {c.action_type for c in classification.events.values()}
    action_types |= {c.action_type for c in classification.autocapture_event_types.values()}
    action_types |= {k.action_type for k in classification.keywords}
    out = []
    for pattern in ruleset_parts["patterns.yaml"].patterns:
        for role, spec in (("match", pattern.match), ("unless", pattern.unless)):
            for field, value in spec.items() if spec else []:
                known = (
                    event_types if field == "event_type" else action_types if field == "action_type" else None
                )
                if known is not None and value not in known:
                    out.append(
                        f"patterns.yaml, pattern '{pattern.code}', key '{role}.{field}': "
                        f"{value!r} is produced by no rule in classification.yaml"
                    )
    return out


def load_rules(rules_dir: Path | str | None = None) -> RuleSet:
    """Read, validate and cross-check every rule file in ``rules_dir`` (default: ``default_rules_dir()``)."""
    folder = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    issues: list[RuleIssue] = []
    if not folder.is_dir():
        raise RulesError([RuleIssue(str(folder), None, None, "rules folder does not exist")], folder)
    for path in sorted(folder.iterdir()):
        if path.suffix in {".yaml", ".yml"} and path.name not in FILE_MODELS:
            hint = difflib.get_close_matches(path.stem + ".yaml", list(FILE_MODELS), n=1)
            issues.append(
                RuleIssue(
                    path.name,
                    None,
                    None,
                    "unknown rule file"
                    + (f" (did you mean '{hint[0]}'?)" if hint else "")
                    + f"; expected: {', '.join(FILE_MODELS)}",
                )
            )
    parts: dict[str, Any] = {}
    docs: dict[str, YamlDocument] = {}
    for name, model in FILE_MODELS.items():
        path = folder / name
        if not path.is_file():
            issues.append(RuleIssue(name, None, None, "required rule file is missing"))
            continue
        try:
            doc = read_yaml(path)
        except YamlSyntaxError as exc:
            issues.append(RuleIssue(name, None, None, str(exc), exc.line))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(RuleIssue(name, None, None, f"cannot read file: {exc}"))
            continue
        data = {} if doc.data is None else doc.data
        issues += _yaml_duplicates(name, doc)
        if not isinstance(data, dict):
            issues.append(
                RuleIssue(name, None, None, "the file must be a mapping of sections (key: value)", 1)
            )
            continue
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            issues += _validation_issues(name, doc, exc)
            continue
        issues += _check_duplicates(name, doc, parsed)
        parts[name] = parsed
        docs[name] = doc
    cohort_nodes: dict[str, list[dict[str, Any]]] = {}
    if "cohorts.yaml" in parts:
        cohort_issues, cohort_nodes = _cohort_issues(docs["cohorts.yaml"], parts["cohorts.yaml"])
        issues += cohort_issues
    if issues:
        raise RulesError(issues, folder)
    return RuleSet(
        source=str(folder),
        classification=parts["classification.yaml"],
        pages=parts["pages.yaml"],
        labels=parts["labels.yaml"],
        elements=parts["elements.yaml"],
        patterns=parts["patterns.yaml"],
        cohorts=parts["cohorts.yaml"],
        privacy=parts["privacy.yaml"],
        cohort_nodes=cohort_nodes,
        warnings=_warnings(parts),
    )
