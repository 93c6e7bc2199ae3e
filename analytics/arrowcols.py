"""Columns between DuckDB, Arrow and numpy for the nightly job (analytics.nightly, analytics.rolling).

Reads Arrow buffers directly and builds Arrow arrays from numpy buffers: pyarrow's to_numpy() /
pa.array() import pandas, which costs ~1 s in a fresh process (the `aggregate` command, the
benchmark's child), a large share of a one-day run.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.sql_loader import _uses, sql


def np_col(col: pa.Array | pa.ChunkedArray, dtype: Any = np.int64, *, nulls: bool = False) -> np.ndarray:
    """A null-free numeric / bool / temporal Arrow column as a numpy array of ``dtype`` (``nulls``:
    the column may hold nulls, whose slots then hold arbitrary values: mask them with is_null()).

    Reads the Arrow buffer directly: pyarrow's own to_numpy() imports pandas, which costs ~1 s in
    a fresh process (the `aggregate` command, the bench's child) -- a fifth of a one-day run.
    Temporal columns come out as their integer storage (timestamp[us] -> us, date32 -> days).
    """
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    typ = arr.type
    if pa.types.is_boolean(typ) or pa.types.is_decimal(typ):
        arr = pc.cast(arr, pa.int8() if pa.types.is_boolean(typ) else pa.float64())
    elif pa.types.is_timestamp(typ) or pa.types.is_date64(typ):
        arr = arr.view(pa.int64())
    elif pa.types.is_date32(typ):
        arr = arr.view(pa.int32())
    assert nulls or arr.null_count == 0
    np_t = arr.type.to_pandas_dtype()
    out = np.frombuffer(arr.buffers()[1], dtype=np_t, count=len(arr) + arr.offset)[arr.offset:]
    return out.astype(dtype, copy=False)


_PA_TYPES = {np.dtype(np.int16): pa.int16(), np.dtype(np.int32): pa.int32(), np.dtype(np.int64): pa.int64(),
             np.dtype(np.float64): pa.float64(), np.dtype("datetime64[us]"): pa.timestamp("us")}


def pa_arr(x: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """A numpy array as an Arrow array built from its buffers (mask True = null). pa.array(ndarray)
    imports pandas (~1 s in a fresh process); this does not. Types: bool, int16/32/64, float64,
    datetime64[us], datetime64[D] (-> date32)."""
    validity = None if mask is None else pa.py_buffer(np.packbits(~mask, bitorder="little"))
    if x.dtype == np.bool_:
        typ, data = pa.bool_(), np.packbits(x, bitorder="little")
    elif x.dtype == np.dtype("datetime64[D]"):
        typ, data = pa.date32(), x.astype(np.int64).astype(np.int32)
    else:
        typ, data = _PA_TYPES[x.dtype], np.ascontiguousarray(x)
    return pa.Array.from_buffers(typ, len(x), [validity, pa.py_buffer(data)])


def dict_col(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa_arr(codes.astype(np.int32)), values)


def str_array(values: list[str]) -> pa.Array:
    """A small list of Python strings as an Arrow string array (pa.array() would import pandas)."""
    data = [v.encode() for v in values]
    offs = np.zeros(len(data) + 1, dtype=np.int32)
    offs[1:] = np.cumsum([len(b) for b in data]) if data else []
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offs), pa.py_buffer(b"".join(data))])


def ident(name: str, allowed: Sequence[str]) -> str:
    """A table name for SQL text: only names from a fixed allow-list ever reach a statement."""
    if name not in allowed:
        raise ValueError(f"table {name!r} is not one of {', '.join(allowed)}")
    return '"' + name + '"'


def read_arrow(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> pa.Table:
    """The whole result of a named query as an Arrow table (fully consumed: see the register gotcha)."""
    text = sql(name)
    used = {k: v for k, v in params.items() if _uses(text, k)}
    if set(params) - set(used):
        raise TypeError(f"{name}.sql has no parameter(s) {sorted(set(params) - set(used))}")
    # a relation streams into Arrow; a DB-API result (con.execute) makes an extra copy of the rows
    # first (~260 MB more peak memory for the 10M-event window's intervals)
    out = con.sql(text, params=used or None).to_arrow_table()
    assert isinstance(out, pa.Table)
    return out


def release_memory() -> None:
    """Give freed heap memory back to the OS between the big steps (glibc keeps freed blocks of the
    size numpy just used, so a recompute's peak would otherwise be the sum of its steps' peaks)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):      # not glibc: nothing to do
        pass


_M_MMAP_THRESHOLD = -3          # glibc mallopt parameter
_heap_bounded = False


def bound_heap(threshold: int = 1 << 20) -> None:
    """Serve every allocation of ``threshold`` bytes or more (numpy's big arrays) straight from mmap,
    so freeing one returns it to the OS at once. glibc otherwise raises its mmap threshold after
    each large free (up to 32 MB) and serves later arrays from the heap, where freed blocks stay
    resident: ~250 MB more RSS at the end of a 10M-event recompute, and a higher peak. Once per
    process; a no-op where the C library is not glibc."""
    global _heap_bounded
    if _heap_bounded:
        return
    _heap_bounded = True
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, int(threshold))
    except (OSError, AttributeError):
        pass
