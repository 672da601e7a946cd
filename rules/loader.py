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
from rules.models import FILE_MODELS, CohortsFile, RuleSet
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


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic models mentioned anywhere inside a type annotation (list[X], dict[str, X], X | None...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out += _models_in(arg)
    return out


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model whose field ``loc`` would be (to list its allowed keys after an unknown key)."""
    current: type[BaseModel] | None = root
    for part in loc:
        if current is None:
            return None
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is not None:
            models = _models_in(field.annotation)
            current = models[0] if models else None
        # a list index or a mapping key keeps the element model found with the field before it
    return current


def _rule_label(data: Any, loc: Loc) -> tuple[str | None, Loc]:
    """Human name of the rule addressed by ``loc`` and the rest of ``loc`` inside that rule."""
    if len(loc) < 2 or not isinstance(data, dict):
        return None, loc
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


def _friendly(error: dict[str, Any], loc: Loc, root: type[BaseModel]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        owner = _model_at(root, loc[:-1])
        allowed = list(owner.model_fields) if owner is not None else []
        close = difflib.get_close_matches(str(loc[-1]) if loc else "", allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return "unknown key" + (f" ({hint}allowed: {', '.join(allowed)})" if allowed else "")
    if kind == "missing":
        return "required key is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _validation_issues(
    file: str, doc: YamlDocument, exc: ValidationError, root: type[BaseModel]
) -> list[RuleIssue]:
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
        issues.append(RuleIssue(file, rule, _key_text(rest), _friendly(error, loc, root), doc.line_of(loc)))
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


# Per list section: (key naming an entry, what the duplicate is called, compare case-insensitively).
_UNIQUE_IN_LISTS = {
    "patterns.yaml": ("patterns", ("code",), "code", False),
    "cohorts.yaml": ("cohorts", ("key",), "key", False),
    "pages.yaml": ("pages", ("equals", "prefix"), "page rule", False),
    "elements.yaml": ("elements", ("attribute",), "attribute", True),
    "classification.yaml": ("keywords", ("keyword",), "keyword", True),
}


def _check_duplicates(file: str, doc: YamlDocument) -> list[RuleIssue]:
    """Rules that must be unique by their code/key/keyword/path; checked on the raw data so that the
    duplicates are reported together with any other mistake in the same file."""
    issues: list[RuleIssue] = []
    data = doc.data if isinstance(doc.data, dict) else {}
    if file in _UNIQUE_IN_LISTS:
        section, name_keys, what, fold = _UNIQUE_IN_LISTS[file]
        entries = data.get(section)
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict):
                continue
            found = [(k, entry[k]) for k in name_keys if isinstance(entry.get(k), str | int)]
            if not found:
                continue
            value = " ".join(
                f"{k} {str(v).strip()}" if len(name_keys) > 1 else str(v).strip() for k, v in found
            )
            value = value.lower() if fold else value
            if value in seen:
                rule, _ = _rule_label(data, (section, index))
                issues.append(
                    RuleIssue(
                        file,
                        rule,
                        name_keys[0] if len(name_keys) == 1 else None,
                        f"duplicate {what} {value!r} (already used by {section}[{seen[value]}])",
                        doc.line_of((section, index)),
                    )
                )
            else:
                seen[value] = index
    if file == "privacy.yaml" and isinstance(data.get("redact"), dict):
        folded: dict[str, str] = {}
        for key in data["redact"]:
            text = str(key)
            if text.lower() in folded:
                issues.append(
                    RuleIssue(
                        file,
                        f"redacted property '{text}'",
                        None,
                        f"duplicate of '{folded[text.lower()]}' (keys are matched case-insensitively)",
                        doc.line_of(("redact", key)),
                    )
                )
            else:
                folded[text.lower()] = text
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


# Keys the exported user context itself uses; redacting one of them would strip it from every export.
CONTEXT_FIELD_NAMES = frozenset(
    {
        "id",
        "name",
        "code",
        "label",
        "uuid",
        "timestamp",
        "page",
        "severity",
        "description",
        "evidence",
        "person_id",
        "project_id",
        "distinct_ids",
        "recent_events",
        "patterns",
        "cohorts",
        "session_id",
        "event_type",
        "action_type",
        "event_name",
        "prompt_text",
        "first_seen",
        "last_seen",
        "country",
        "browser",
        "device_type",
    }
)


def _warnings(ruleset_parts: dict[str, Any]) -> list[str]:
    """Legal but suspicious: redacting a context field, pattern filters on types no rule produces."""
    classification = ruleset_parts["classification.yaml"]
    event_types = {"custom"} | {c.event_type for c in classification.events.values()}
    event_types |= {c.event_type for c in classification.autocapture_event_types.values()}
    event_types |= {k.event_type for k in classification.keywords}
    action_types = {c.action_type for c in classification.events.values()}
    action_types |= {c.action_type for c in classification.autocapture_event_types.values()}
    action_types |= {k.action_type for k in classification.keywords}
    out = [
        f"privacy.yaml, redacted property '{key}': it is also a field of the exported context "
        "and would be removed from it everywhere"
        for key in ruleset_parts["privacy.yaml"].redact
        if key.lower() in CONTEXT_FIELD_NAMES
    ]
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
        issues += _check_duplicates(name, doc)
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            issues += _validation_issues(name, doc, exc, model)
            continue
        parts[name] = parsed
        docs[name] = doc
    cohort_nodes: dict[str, list[dict[str, Any]]] = {}
    if "cohorts.yaml" in parts:
        cohort_issues, cohort_nodes = _cohort_issues(docs["cohorts.yaml"], parts["cohorts.yaml"])
        issues += cohort_issues
    if issues:
        order = {name: index for index, name in enumerate(FILE_MODELS)}
        issues.sort(key=lambda issue: (order.get(issue.file, -1), issue.line or 0))
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
