"""Turn Arrow query results into JSON-ready rows quickly (numpy date formatting, no per-cell datetimes).

Datetimes are rendered as ISO strings with the project's UTC offset, as PostHog's query API does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def offset_suffix(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600:02d}:{(seconds % 3600) // 60:02d}"


def format_datetimes(utc: pa.ChunkedArray | pa.Array, offsets: pa.ChunkedArray | pa.Array | None) -> list:
    """ISO strings (microseconds, with offset) for UTC timestamps; `offsets` are seconds east of UTC."""
    if isinstance(utc, pa.ChunkedArray):
        utc = utc.combine_chunks()
    n = len(utc)
    if n == 0:
        return []
    valid = np.asarray(utc.is_valid())
    micros = np.asarray(utc.cast(pa.int64()).fill_null(0))
    if offsets is None:
        off = np.zeros(n, dtype=np.int64)
    else:
        if isinstance(offsets, pa.ChunkedArray):
            offsets = offsets.combine_chunks()
        off = np.asarray(offsets.cast(pa.int64()).fill_null(0))
    local = (micros + off * 1_000_000).astype("datetime64[us]")
    text = np.datetime_as_string(local, unit="us")
    uniq = np.unique(off)
    if uniq.size == 1:
        suffix = offset_suffix(int(uniq[0]))
        out = [s + suffix for s in text.tolist()]
    else:
        suffixes = {int(o): offset_suffix(int(o)) for o in uniq}
        out = [s + suffixes[o] for s, o in zip(text.tolist(), off.tolist(), strict=True)]
    if not valid.all():
        for i in np.flatnonzero(~valid).tolist():
            out[i] = None
    return out


def table_rows(table: pa.Table, kinds: list[str], has_offsets: bool) -> list[tuple[Any, ...]]:
    """Positional rows for the kinds the HogQL compiler produced (`dt` columns become ISO strings).

    With `has_offsets`, each `dt` column `cN` is followed in `table` by its offset column `oN`.
    """
    columns: list[list] = []
    for n, kind in enumerate(kinds):
        col = table.column(f"c{n}")
        if kind == "dt":
            columns.append(format_datetimes(col, table.column(f"o{n}") if has_offsets else None))
        else:
            columns.append(col.to_pylist())
    return list(zip(*columns, strict=True)) if columns else []
