"""Turns a person's exported context into the answers chat assistants read.

Shared by the MCP server (and usable by the read API): trimming recent events, rendering a compact
prompt when fewer events are asked for than the export's stored `prompt_text` carries, and pulling
the evidence of one pattern together with the matching events.
"""

from __future__ import annotations

from typing import Any

from serving.store import ExportSnapshot

MAX_EVENTS_LIMIT = 200


def with_export_stamp(snapshot: ExportSnapshot, payload: dict[str, Any]) -> dict[str, Any]:
    """Every answer names the export it came from and its as-of time, so staleness is visible."""
    return {"as_of": snapshot.as_of_iso, "export_version": snapshot.version, **payload}


def trim_context(context: dict[str, Any], max_events: int) -> dict[str, Any]:
    """A copy of the context with at most `max_events` recent events (newest first)."""
    out = dict(context)
    events = list(context.get("recent_events") or [])
    out["recent_events"] = events[:max_events]
    out["recent_events_total"] = len(events)
    return out


def _line(value: Any) -> str:
    """Single-line text for the prompt: data never breaks the prompt's layout."""
    return " ".join(str(value).split())


def render_prompt(context: dict[str, Any], max_events: int) -> str:
    """Plain-text briefing built from the structured context (used when the stored one is too long)."""
    parts: list[str] = []
    ids = ", ".join(_line(d) for d in (context.get("distinct_ids") or [])[:5])
    head = f"Person {_line(context.get('person_id'))}"
    if ids:
        head += f" (distinct ids: {ids})"
    parts.append(head + ".")
    facts = []
    if context.get("first_seen"):
        facts.append(f"first seen {context['first_seen']}")
    if context.get("last_seen"):
        facts.append(f"last seen {context['last_seen']}")
    if context.get("session_count") is not None:
        facts.append(f"{context['session_count']} sessions")
    if context.get("event_count") is not None:
        facts.append(f"{context['event_count']} events")
    device = " / ".join(_line(context[k]) for k in ("device_type", "browser", "country") if context.get(k))
    if device:
        facts.append(device)
    if facts:
        parts.append("Activity: " + "; ".join(facts) + ".")
    if context.get("last_session_summary"):
        parts.append(f"Last session: {_line(context['last_session_summary'])}")
    events = list(context.get("recent_events") or [])
    shown = events[:max_events]
    if shown:
        parts.append(f"Recent events (newest first, {len(shown)} of {len(events)}):")
        for event in shown:
            page = f" [{_line(event['page'])}]" if event.get("page") else ""
            parts.append(
                f"- {event.get('timestamp', '')} {_line(event.get('label') or event.get('event_name'))}{page}"
            )
    patterns = [p for p in (context.get("patterns") or []) if isinstance(p, dict)]
    if patterns:
        parts.append("Detected patterns:")
        for p in patterns:
            when = f", last at {p['last_at']}" if p.get("last_at") else ""
            parts.append(
                f"- {p.get('severity', '')} {p.get('code')}: {_line(p.get('description') or '')}{when}"
            )
    cohorts = [c for c in (context.get("cohorts") or []) if isinstance(c, dict)]
    if cohorts:
        parts.append("Cohorts: " + ", ".join(_line(c.get("name") or c.get("id")) for c in cohorts) + ".")
    return "\n".join(parts)


def prompt_for(context: dict[str, Any], max_events: int) -> str:
    """The export's own prompt_text when it fits the event budget, else a freshly rendered one."""
    stored = context.get("prompt_text")
    if stored and max_events >= len(context.get("recent_events") or []):
        return str(stored)
    return render_prompt(context, max_events)


def pattern_evidence(context: dict[str, Any], code: str) -> list[dict[str, Any]]:
    """Each occurrence of pattern `code` for this person with its evidence events, enriched with the
    event details found among the recent events (same uuid)."""
    by_uuid = {e.get("uuid"): e for e in (context.get("recent_events") or []) if isinstance(e, dict)}
    occurrences = []
    for p in context.get("patterns") or []:
        if not isinstance(p, dict) or p.get("code") != code:
            continue
        events = []
        for item in p.get("evidence") or []:
            if not isinstance(item, dict):
                continue
            event = {"uuid": item.get("uuid"), "at": item.get("at"), "label": item.get("label")}
            known = by_uuid.get(item.get("uuid"))
            if known:
                for key in (
                    "event_name",
                    "event_type",
                    "action_type",
                    "page",
                    "session_id",
                    "sequence_number",
                ):
                    if known.get(key) is not None:
                        event[key] = known[key]
            events.append(event)
        occurrences.append(
            {
                "session_id": p.get("session_id"),
                "severity": p.get("severity"),
                "description": p.get("description"),
                "matched_count": p.get("matched_count"),
                "first_at": p.get("first_at"),
                "last_at": p.get("last_at"),
                "events": events,
            }
        )
    return occurrences


def explain_text(person_id: str, code: str, occurrences: list[dict[str, Any]], as_of: str) -> str:
    lines = [f"Pattern {code} for person {person_id} (export as of {as_of}):"]
    for occ in occurrences:
        what = _line(occ.get("description") or "")
        lines.append(
            f"- {occ.get('severity')} in session {occ.get('session_id')}: {what} "
            f"(matched {occ.get('matched_count')}x between {occ.get('first_at')} and {occ.get('last_at')})"
        )
        for event in occ["events"]:
            page = f" [{_line(event['page'])}]" if event.get("page") else ""
            lines.append(f"    {event.get('at')} {_line(event.get('label') or '')}{page}")
    return "\n".join(lines)
