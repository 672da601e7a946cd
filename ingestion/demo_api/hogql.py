"""A small, safe subset of HogQL, translated to DuckDB SQL with bound parameters.

Grammar (keywords case-insensitive):
    SELECT item [, item]* FROM events|persons|person_distinct_ids
    [WHERE expr] [ORDER BY column [ASC|DESC] [, ...]] [LIMIT n [OFFSET m]]
    item := column | properties.<key> | person.properties | count() | count(*) | max(col) | min(col)
            | toString(col)   [AS alias]
    expr := OR / AND / NOT over comparisons (= == != <> < <= > >=), IS [NOT] NULL, IN (literals)
    value := column | 'string' | number | toDateTime('...'[, 'tz']) | toDateTime64('...', p[, 'tz'])
             | now() [± INTERVAL n unit]

Nothing from the query text ever reaches SQL except through the fixed column map and `?` parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MAX_LIMIT = 50_000
_TIMESTAMP_SQL = 'e."timestamp"'
_DT_PARAM = "CAST(? AS TIMESTAMPTZ)"
DEFAULT_LIMIT = 100


class HogQLError(ValueError):
    """The query uses something this demo (or HogQL) does not support; answered with HTTP 400."""


# kind: 'dt' datetime, 'str', 'uuid', 'int', 'bool', 'json'
_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "events": {
        "uuid": ("e.uuid", "uuid"),
        "event": ("e.event", "str"),
        "distinct_id": ("e.distinct_id", "str"),
        "timestamp": ('e."timestamp"', "dt"),
        "created_at": ("e.created_at", "dt"),
        "properties": ("e.properties", "json"),
        "elements_chain": ("e.elements_chain", "str"),
        "person_id": ("e.person_id", "uuid"),
        "$session_id": ("json_extract_string(e.properties, '$.\"$session_id\"')", "str"),
        "$window_id": ("json_extract_string(e.properties, '$.\"$window_id\"')", "str"),
        "person.properties": ("p.properties", "json"),
        "person_properties": ("p.properties", "json"),
    },
    "persons": {
        "id": ("e.id", "uuid"),
        "created_at": ("e.created_at", "dt"),
        "properties": ("e.properties", "json"),
        "is_identified": ("e.is_identified", "bool"),
    },
    "person_distinct_ids": {
        "distinct_id": ("e.distinct_id", "str"),
        "person_id": ("e.person_id", "uuid"),
    },
}
_CH_TYPES = {"uuid": "UUID", "str": "String", "json": "String", "int": "UInt64", "bool": "Bool"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.|'')*')
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|==|=|<|>|\(|\)|,|\*|\.|-|\+)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*|`[^`]+`)
""",
    re.VERBOSE | re.DOTALL,
)

_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "offset",
    "as",
    "is",
    "null",
    "in",
    "interval",
    "true",
    "false",
}


@dataclass
class Token:
    kind: str  # str num op ident kw end
    value: str


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise HogQLError(f"Unexpected character {text[pos]!r} at position {pos}")
        pos = m.end()
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "ws":
            continue
        if kind == "str":
            body = value[1:-1]
            value = re.sub(r"\\(.)|''", lambda g: g.group(1) if g.group(1) is not None else "'", body)
        if kind == "ident":
            if value.startswith("`"):
                value = value[1:-1]
            elif value.lower() in _KEYWORDS:
                kind, value = "kw", value.lower()
        tokens.append(Token(kind, value))
    tokens.append(Token("end", ""))
    return tokens


@dataclass
class Compiled:
    """DuckDB SQL plus parameters and the output column names/kinds."""

    sql: str
    params: list[Any]
    columns: list[str]
    kinds: list[str]
    limit: int
    offset: int
    table: str
    aggregate: bool = False
    bound_sql: str | None = None  # optional phase 1: the page's last sort value (same params)
    bounded_sql: str | None = None  # phase 2: `sql` plus a bound on that value (params + [bound])
    types: list[list[str]] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str, timezone: str) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.tz = ZoneInfo(timezone)
        self.tzname = timezone
        self.params: list[Any] = []
        self.table = ""
        self.needs_person_join = False

    # token helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        tok = self.peek()
        if tok.kind == kind and (value is None or tok.value.lower() == value):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, value: str | None = None) -> Token:
        tok = self.accept(kind, value)
        if tok is None:
            got = self.peek()
            raise HogQLError(f"Expected {value or kind}, got {got.value or 'end of query'!r}")
        return tok

    # grammar
    def parse(self) -> Compiled:
        self.expect("kw", "select")
        raw_items = [self.select_item()]
        while self.accept("op", ","):
            raw_items.append(self.select_item())
        self.expect("kw", "from")
        table = self.expect("ident").value
        if table not in _COLUMNS:
            raise HogQLError(f"Unknown table `{table}`")
        self.table = table
        items = [item for resolve in raw_items for item in resolve()]
        select_join, self.needs_person_join = self.needs_person_join, False
        where = ""
        low: datetime | None = None
        if self.accept("kw", "where"):
            where_expr, low = self.expr()
            where = " WHERE " + where_expr
        order: list[str] = []
        first_order: tuple[str, str, str] | None = None
        if self.accept("kw", "order"):
            self.expect("kw", "by")
            while True:
                sql, kind, _name = self.column_ref()
                direction = "DESC" if self.accept("kw", "desc") else "ASC"
                self.accept("kw", "asc")
                order.append(f"{sql} {direction}")
                first_order = first_order or (sql, kind, direction)
                if not self.accept("op", ","):
                    break
        limit, offset = DEFAULT_LIMIT, 0
        if self.accept("kw", "limit"):
            limit = int(float(self.expect("num").value))
            if self.accept("kw", "offset"):
                offset = int(float(self.expect("num").value))
            elif self.accept("op", ","):  # LIMIT offset, n
                offset, limit = limit, int(float(self.expect("num").value))
        if self.peek().kind != "end":
            raise HogQLError(f"Unexpected {self.peek().value!r} after the end of the query")
        limit = max(0, min(limit, MAX_LIMIT))
        aggregate = any(kind_is_agg for _, _, _, kind_is_agg in items)
        if aggregate and not all(agg for *_, agg in items):
            raise HogQLError(
                "Mixing aggregates and plain columns needs GROUP BY, which this server does not support"
            )
        source = {"events": "events", "persons": "persons", "person_distinct_ids": "person_distinct_ids"}[
            table
        ]
        person_join = " LEFT JOIN persons p ON p.project_id = e.project_id AND p.id = e.person_id"
        join = person_join if select_join or self.needs_person_join else ""
        key_join = person_join if self.needs_person_join else ""  # only when WHERE/ORDER use persons
        project_filter = "e.project_id = ?"
        where_sql = f" WHERE {project_filter}" + (f" AND ({where[7:]})" if where else "")
        if low is not None and table == "events":
            where_sql += f" AND {_TIMESTAMP_SQL} >= {_DT_PARAM}"
            self.params.append(low)
        select_sql = ", ".join(f"{sql} AS c{n}" for n, (sql, _, _, _) in enumerate(items))
        sql = f"SELECT {select_sql} FROM {source} e{join}{where_sql}"
        if order and not aggregate:
            sql += " ORDER BY " + ", ".join(order)
        sql += f" LIMIT {limit + 1} OFFSET {offset}"
        bound_sql = bounded_sql = None
        if first_order is not None and first_order[1] == "dt" and not aggregate and limit > 0:
            # Two-phase page: find the page's last sort value reading only the key columns, then read
            # full rows below that bound, so wide columns are only materialised for ~limit rows.
            key, _, direction = first_order
            agg, cmp = ("max", "<=") if direction == "ASC" else ("min", ">=")
            bound_sql = (
                f"SELECT {agg}(k) FROM (SELECT {key} AS k FROM {source} e{key_join}{where_sql}"
                f" ORDER BY {', '.join(order)} LIMIT {limit + 1} OFFSET {offset})"
            )
            bounded_sql = (
                f"SELECT {select_sql} FROM {source} e{join}{where_sql}"
                f" AND {key} {cmp} CAST(? AS TIMESTAMPTZ) ORDER BY {', '.join(order)}"
                f" LIMIT {limit + 1} OFFSET {offset}"
            )
        compiled = Compiled(
            sql=sql,
            params=self.params,
            columns=[name for _, _, name, _ in items],
            kinds=[kind for _, kind, _, _ in items],
            limit=limit,
            offset=offset,
            table=table,
            aggregate=aggregate,
            bound_sql=bound_sql,
            bounded_sql=bounded_sql,
        )
        compiled.types = [
            [name, self.ch_type(kind)] for name, kind in zip(compiled.columns, compiled.kinds, strict=True)
        ]
        return compiled

    def ch_type(self, kind: str) -> str:
        if kind == "dt":
            return f"DateTime64(6, '{self.tzname}')"
        return _CH_TYPES[kind]

    def select_item(self):
        """Parse one select item; resolution waits until FROM names the table."""
        tok = self.peek()
        if tok.kind == "ident" and self.peek(1).kind == "op" and self.peek(1).value == "(":
            fn = self.take().value.lower()
            self.expect("op", "(")
            if fn == "count":
                self.accept("op", "*")
                self.expect("op", ")")
                alias = self.alias() or "count()"
                return lambda: [("count(*)", "int", alias, True)]
            if fn in ("max", "min", "tostring"):
                start = self.i
                self.skip_column_tokens()
                end = self.i
                self.expect("op", ")")
                alias = self.alias()

                def resolve(fn=fn, start=start, end=end, alias=alias):
                    sql, kind, name = self.column_ref_at(start, end)
                    if fn == "tostring":
                        out_kind = "str" if kind != "dt" else "dt"
                        return [(sql, out_kind, alias or f"toString({name})", False)]
                    return [(f"{fn}({sql})", kind, alias or f"{fn}({name})", True)]

                return resolve
            raise HogQLError(f"Unsupported function `{fn}` in SELECT")
        if self.accept("op", "*"):  # every stored column of the table, in a fixed order
            return lambda: [
                (sql, kind, name, False)
                for name, (sql, kind) in _COLUMNS[self.table].items()
                if "." not in name and not name.startswith("$") and name != "person_properties"
            ]
        start = self.i
        self.skip_column_tokens()
        end = self.i
        alias = self.alias()

        def resolve_col(start=start, end=end, alias=alias):
            sql, kind, name = self.column_ref_at(start, end)
            return [(sql, kind, alias or name, False)]

        return resolve_col

    def alias(self) -> str | None:
        if self.accept("kw", "as"):
            return self.expect("ident").value
        return None

    def skip_column_tokens(self) -> None:
        self.expect("ident")
        while self.peek().kind == "op" and self.peek().value == "." and self.peek(1).kind in ("ident", "kw"):
            self.i += 2

    def column_ref_at(self, start: int, end: int) -> tuple[str, str, str]:
        saved = self.i
        self.i = start
        try:
            result = self.column_ref()
            if self.i != end:
                raise HogQLError("Bad column reference")
            return result
        finally:
            self.i = saved

    def column_ref(self) -> tuple[str, str, str]:
        """Resolve `name`, `properties.key`, `person.properties[.key]` to SQL, kind and output name."""
        parts = [self.expect("ident").value]
        while self.peek().kind == "op" and self.peek().value == "." and self.peek(1).kind in ("ident", "kw"):
            self.i += 1
            parts.append(self.take().value)
        cols = _COLUMNS[self.table]
        if parts[0] == self.table and len(parts) > 1:  # events.uuid
            parts = parts[1:]
        dotted = ".".join(parts)
        if dotted in cols:
            sql, kind = cols[dotted]
            if sql.startswith("p."):
                self.needs_person_join = True
            return sql, kind, parts[-1] if dotted not in ("person.properties",) else "person.properties"
        base = None
        if parts[0] == "properties" and len(parts) >= 2 and "properties" in cols:
            base, keys = cols["properties"][0], parts[1:]
        elif parts[:2] == ["person", "properties"] and len(parts) >= 3 and self.table == "events":
            self.needs_person_join = True
            base, keys = "p.properties", parts[2:]
        if base is None:
            raise HogQLError(f"Unknown field `{dotted}` on table `{self.table}`")
        path = "$" + "".join('."' + k.replace('"', "") + '"' for k in keys)
        # Raw JSON value with surrounding quotes removed, like HogQL's property access.
        sql = (
            f"regexp_replace(CAST(json_extract({base}, '{_safe_path(path)}') AS VARCHAR), '^\"|\"$', '', 'g')"
        )
        return sql, "str", keys[-1]

    # Each boolean parser returns (sql, lower bound on events.timestamp implied by it, or None). The
    # bound is added as a redundant `timestamp >=` filter so DuckDB can skip row groups: keyset
    # conditions like `t > X OR (t = X AND uuid > U)` hide it from the optimizer otherwise.
    def expr(self) -> tuple[str, datetime | None]:
        left, low = self.and_expr()
        while self.accept("kw", "or"):
            right, right_low = self.and_expr()
            left = f"({left} OR {right})"
            low = min(low, right_low) if low is not None and right_low is not None else None
        return left, low

    def and_expr(self) -> tuple[str, datetime | None]:
        left, low = self.not_expr()
        while self.accept("kw", "and"):
            right, right_low = self.not_expr()
            left = f"({left} AND {right})"
            low = max((v for v in (low, right_low) if v is not None), default=None)
        return left, low

    def not_expr(self) -> tuple[str, datetime | None]:
        if self.accept("kw", "not"):
            inner, _ = self.not_expr()
            return f"(NOT {inner})", None
        return self.comparison()

    def comparison(self) -> tuple[str, datetime | None]:
        if self.peek().kind == "op" and self.peek().value == "(":
            self.take()
            inner = self.expr()
            self.expect("op", ")")
            return inner
        left_sql, left_kind = self.value()
        if self.accept("kw", "is"):
            neg = bool(self.accept("kw", "not"))
            self.expect("kw", "null")
            return f"({left_sql} IS {'NOT ' if neg else ''}NULL)", None
        negate_in = False
        if self.peek().kind == "kw" and self.peek().value == "not" and self.peek(1).value == "in":
            self.take()
            negate_in = True
        if self.accept("kw", "in"):
            self.expect("op", "(")
            values = [self.literal_for(left_kind)]
            while self.accept("op", ","):
                values.append(self.literal_for(left_kind))
            self.expect("op", ")")
            return f"({left_sql} {'NOT ' if negate_in else ''}IN ({', '.join(values)}))", None
        op_tok = self.peek()
        if op_tok.kind != "op" or op_tok.value not in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            if left_kind == "bool":
                return left_sql, None
            raise HogQLError(f"Expected a comparison operator, got {op_tok.value or 'end of query'!r}")
        self.take()
        op = {"==": "=", "<>": "!="}.get(op_tok.value, op_tok.value)
        right_sql, _ = self.value(hint=left_kind)
        low = None
        if (
            left_sql == _TIMESTAMP_SQL
            and op in (">", ">=", "=")
            and right_sql == _DT_PARAM
            and isinstance(self.params[-1], datetime)
        ):
            low = self.params[-1]
        return f"({left_sql} {op} {right_sql})", low

    def literal_for(self, kind: str) -> str:
        sql, _ = self.value(hint=kind)
        return sql

    def value(self, hint: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok.kind == "str":
            self.take()
            if hint == "dt":
                return self.bind(self.parse_dt(tok.value, None), "TIMESTAMPTZ"), "dt"
            return self.bind(tok.value), "str"
        if tok.kind == "num" or (tok.kind == "op" and tok.value == "-" and self.peek(1).kind == "num"):
            sign = -1 if self.accept("op", "-") else 1
            num = self.take().value
            val: Any = sign * (float(num) if "." in num else int(num))
            return self.bind(val), "int"
        if tok.kind == "kw" and tok.value in ("true", "false"):
            self.take()
            return self.bind(tok.value == "true"), "bool"
        if tok.kind == "kw" and tok.value == "null":
            self.take()
            return "NULL", "lit"
        if tok.kind == "ident" and self.peek(1).kind == "op" and self.peek(1).value == "(":
            return self.function_value()
        if tok.kind == "ident":
            sql, kind, _ = self.column_ref()
            return sql, kind
        raise HogQLError(f"Unexpected {tok.value or 'end of query'!r}")

    def function_value(self) -> tuple[str, str]:
        fn = self.take().value.lower()
        self.expect("op", "(")
        if fn in ("todatetime", "todatetime64", "parsedatetime64besteffort", "parsedatetimebesteffort"):
            text = self.expect("str").value
            tz: str | None = None
            while self.accept("op", ","):
                arg = self.take()
                if arg.kind == "str":
                    tz = arg.value
                elif arg.kind != "num":
                    raise HogQLError(f"Bad argument {arg.value!r} to {fn}")
            self.expect("op", ")")
            return self.with_interval(self.bind(self.parse_dt(text, tz), "TIMESTAMPTZ"))
        if fn == "now":
            self.expect("op", ")")
            return self.with_interval(self.bind(datetime.now(UTC), "TIMESTAMPTZ"))
        if fn == "tostring":
            sql, _kind, _ = self.column_ref()
            self.expect("op", ")")
            return sql, "str"
        raise HogQLError(f"Unsupported function `{fn}`")

    def with_interval(self, sql: str) -> tuple[str, str]:
        """Handle `<datetime> ± INTERVAL n unit`; the interval is folded into the bound value."""
        while (
            self.peek().kind == "op" and self.peek().value in ("+", "-") and self.peek(1).value == "interval"
        ):
            sign = 1 if self.take().value == "+" else -1
            self.take()
            amount = int(float(self.expect("num").value))
            unit = self.expect("ident").value.lower().rstrip("s")
            seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}.get(unit)
            if seconds is None:
                raise HogQLError(f"Unsupported interval unit `{unit}`")
            self.params[-1] = self.params[-1] + sign * timedelta(seconds=amount * seconds)
        return sql, "dt"

    def parse_dt(self, text: str, tz: str | None) -> datetime:
        raw = text.strip().replace(" ", "T", 1)
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise HogQLError(f"Cannot parse datetime {text!r}") from None
        if parsed.tzinfo is None:
            try:
                zone = ZoneInfo(tz) if tz else self.tz
            except Exception:
                raise HogQLError(f"Unknown time zone {tz!r}") from None
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)

    def bind(self, value: Any, cast: str | None = None) -> str:
        self.params.append(value)
        return f"CAST(? AS {cast})" if cast else "?"


def _safe_path(path: str) -> str:
    """JSON paths are inlined (DuckDB wants a constant); only plain key characters may pass."""
    if not re.fullmatch(r'\$(\."[A-Za-z0-9_$\-: ]+")+', path):
        raise HogQLError(f"Unsupported property key in {path!r}")
    return path


def compile_query(text: str, project_id: int, timezone: str = "UTC") -> Compiled:
    """Parse a HogQL query and return DuckDB SQL; the project filter is always the first parameter."""
    if not isinstance(text, str) or not text.strip():
        raise HogQLError("Query is empty")
    parser = _Parser(text, timezone)
    compiled = parser.parse()
    compiled.params = [project_id, *compiled.params]
    return compiled
