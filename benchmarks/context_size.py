"""How much smaller `prompt_text` is than the full JSON context, and whether it leaves anything out.

Tokens are counted with a plain rule (runs of word characters, and each other non-space character on
its own) so the figure is reproducible without any model vocabulary.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_JSON_FIELDS = ("recent_events", "patterns", "cohorts", "distinct_ids")


def count_tokens(text: str) -> int:
    """Word runs plus single punctuation marks."""
    return sum(1 for _ in _TOKEN.finditer(text))


def _as_json(value: Any) -> Any:
    """Nested columns may arrive as JSON text (Parquet) or real JSON (JSONL); normalise to objects."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("[", "{"):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
    return value


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _distribution(values: list[float], digits: int = 4) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        "min": round(ordered[0], digits),
        "p50": round(_percentile(ordered, 0.5), digits),
        "p90": round(_percentile(ordered, 0.9), digits),
        "p95": round(_percentile(ordered, 0.95), digits),
        "max": round(ordered[-1], digits),
        "mean": round(sum(ordered) / len(ordered), digits),
    }


def _missing_items(row: dict[str, Any], prompt: str) -> dict[str, int]:
    """Count recent-event labels, the session summary and patterns that the prompt does not mention."""
    lowered = prompt.lower()
    missing = {"labels": 0, "labels_truncated": 0, "summary": 0, "patterns": 0}
    for event in row.get("recent_events") or []:
        label = (event or {}).get("label") if isinstance(event, dict) else None
        if label and label.lower() not in lowered:
            # Shortened to fit the budget ("Clicked 'X' product card on …") is not the same as absent.
            head = label.lower()[: max(12, min(40, len(label) // 2))]
            missing["labels_truncated" if head in lowered else "labels"] += 1
    summary = row.get("last_session_summary")
    if summary and summary.lower() not in lowered:
        missing["summary"] += 1
    for pattern in row.get("patterns") or []:
        if not isinstance(pattern, dict):
            continue
        code = str(pattern.get("code") or "").lower()
        description = str(pattern.get("description") or "").lower()
        if code and code not in lowered and (not description or description not in lowered):
            missing["patterns"] += 1
    return missing


def measure_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-person bytes/tokens of prompt_text vs the full JSON context (the row without prompt_text)."""
    prompt_bytes, json_bytes, prompt_tokens, json_tokens, ratios, token_ratios = [], [], [], [], [], []
    persons_missing = persons_truncated = 0
    missing_total = {"labels": 0, "labels_truncated": 0, "summary": 0, "patterns": 0}
    for raw in rows:
        row = {key: _as_json(value) for key, value in raw.items()}
        prompt = row.pop("prompt_text", None) or ""
        context_json = orjson.dumps(row, default=str).decode()
        pb, jb = len(prompt.encode()), len(context_json.encode())
        pt, jt = count_tokens(prompt), count_tokens(context_json)
        prompt_bytes.append(pb)
        json_bytes.append(jb)
        prompt_tokens.append(pt)
        json_tokens.append(jt)
        ratios.append(pb / jb if jb else 0.0)
        token_ratios.append(pt / jt if jt else 0.0)
        missing = _missing_items(row, prompt)
        if missing["labels"] or missing["summary"] or missing["patterns"]:
            persons_missing += 1
        if missing["labels_truncated"]:
            persons_truncated += 1
        for key, value in missing.items():
            missing_total[key] += value
    n = len(rows)
    return {
        "persons": n,
        "prompt_bytes": _distribution(prompt_bytes, 1),
        "json_bytes": _distribution(json_bytes, 1),
        "prompt_tokens": _distribution(prompt_tokens, 1),
        "json_tokens": _distribution(json_tokens, 1),
        "bytes_ratio": _distribution(ratios),
        "tokens_ratio": _distribution(token_ratios),
        "share_within_quarter": round(sum(r <= 0.25 for r in ratios) / n, 4) if n else 0.0,
        "total_bytes_ratio": round(sum(prompt_bytes) / sum(json_bytes), 4) if sum(json_bytes) else 0.0,
        "persons_with_omissions": persons_missing,
        "persons_with_truncated_labels": persons_truncated,
        "omitted_items": missing_total,
    }


def measure_export(export_dir: Path) -> dict[str, Any]:
    """Measure the current export (JSONL preferred: nested columns are real JSON there)."""
    current = export_dir / "current"
    jsonl = current / "user_context.jsonl"
    if jsonl.exists():
        with jsonl.open("rb") as handle:
            rows = [orjson.loads(line) for line in handle if line.strip()]
        return measure_rows(rows)
    parquet = current / "user_context.parquet"
    if parquet.exists():
        import pyarrow.parquet as pq

        return measure_rows(pq.read_table(parquet).to_pylist())
    return {"persons": 0, "error": f"no user_context export under {current}"}
