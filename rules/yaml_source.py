"""Read a rule YAML file into plain data plus a map from key paths to line numbers.

PyYAML silently keeps the last of two equal keys and forgets where things were; rule errors should say
"line 14", and a repeated key (two `product_clicked:` labels) is almost always a mistake, so both are
handled here while walking the composed node tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same result, faster


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    duplicates: list[tuple[Loc, int, int]] = field(default_factory=list)  # (loc, first line, repeat line)
    node_count: int = 0

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest known prefix of ``loc`` (1-based)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


MAX_NODES = 200_000  # far above any real rule file; stops alias bombs ("billion laughs") early


def _walk(node: yaml.Node, loc: Loc, doc: YamlDocument) -> None:
    doc.node_count += 1
    if doc.node_count > MAX_NODES:
        raise YamlSyntaxError(f"the file expands to more than {MAX_NODES} values (too many aliases?)", None)
    doc.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                doc.duplicates.append(((*loc, key), seen[key], line))
            else:
                seen[key] = line
            child = (*loc, key)
            doc.lines[child] = line
            _walk(value_node, child, doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), doc)


def read_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file; raise ``YamlSyntaxError`` with the line of the problem."""
    text = path.read_text(encoding="utf-8")
    doc = YamlDocument(data=None)
    try:
        node = yaml.compose(text, Loader=_LOADER)
        if node is not None:
            _walk(node, (), doc)  # first: refuses alias bombs before anything is built from them
            doc.data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (no Python tags)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlSyntaxError(f"YAML syntax error: {problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"YAML error: {exc}", None) from None
    return doc
