"""Label templates split into text and property parts ahead of time, so SQL fills them by joining rows.

Syntax: ``{property_key}`` is replaced by the event property of that name. ``{{`` and ``}}`` are plain
text (they stay as written, so a Jinja-looking template can never be evaluated by anything). Every other
use of a brace is a mistake and is reported with its position.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A "simple property key": what PostHog SDKs and data-ph-capture-attribute-* produce. No dots (nesting),
# no spaces, no quotes: anything a user could mean as SQL or JSON-path syntax is refused here.
PROPERTY_KEY = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$\-]{0,99}$")


class TemplatePart(NamedTuple):
    kind: str  # "text" | "property"
    value: str


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says what is wrong and at which character."""


def parse_template(template: str, *, allowed: frozenset[str] | None = None) -> list[TemplatePart]:
    """Split ``template`` into text/property parts; ``allowed`` limits placeholder names (None = any key)."""
    parts: list[TemplatePart] = []
    text: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            text.append(template[i : i + 2])
            i += 2
            continue
        if char == "}":
            raise TemplateError(f"unbalanced '}}' at character {i + 1} (write '}}}}' for a literal brace)")
        if char != "{":
            text.append(char)
            i += 1
            continue
        end = template.find("}", i + 1)
        nested = template.find("{", i + 1)
        if end == -1 or (nested != -1 and nested < end):
            raise TemplateError(
                f"unbalanced '{{' at character {i + 1} (placeholders look like {{product_name}})"
            )
        name = template[i + 1 : end]
        if not name.strip():
            raise TemplateError(f"empty placeholder '{{}}' at character {i + 1}")
        if not PROPERTY_KEY.match(name):
            raise TemplateError(
                f"placeholder {{{name}}} at character {i + 1} is not a simple property key "
                "(letters, digits, _, $ and -; no spaces, dots or quotes)"
            )
        if allowed is not None and name not in allowed:
            raise TemplateError(
                f"unknown placeholder {{{name}}} at character {i + 1} (allowed: "
                + ", ".join("{" + a + "}" for a in sorted(allowed))
                + ")"
            )
        if text:
            parts.append(TemplatePart("text", "".join(text)))
            text = []
        parts.append(TemplatePart("property", name))
        i = end + 1
    if text:
        parts.append(TemplatePart("text", "".join(text)))
    return parts
