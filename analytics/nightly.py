"""The nightly aggregation: per-day and rolling venue/market metrics, raw-event pruning, recompute.

Owns the metric tables of migration 0002; called by collector/nightly.py (the service's nightly
job and the `tablepulse aggregate` / `recompute` commands), benchmarks and tests. Takes a DuckDB
connection and never opens files itself; callers own the transaction (the writer's job runs in one).

Keying: per-day metrics key on the market-local day on which a transition was OBSERVED (a drop on
the day of its first trusted poll, a close on the day of the first poll without it, a censored end
on the day it was recorded: slot_intervals.ended_at, the poll after the gap or the nightly run that
retired the bucket; an interval whose end was recorded later is simply still open at the day's end). A day is complete once it is over, so the run for day D is final and
re-running it is a no-op. Keying on the bucket date instead would leave every day open for two
weeks (its buckets are polled 14 days ahead) and make "yesterday" a moving number.

Every metric is computed from slot_intervals + open_slots + poll_ledger, which are kept forever;
availability_events (raw) are not read, so `recompute` can rebuild everything after a definition
changes. The prune step still deletes raw events only for days already aggregated
(day_quality has the day), so no raw event ever leaves before its day's metrics exist.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.sql_loader import run, run_script
from analytics.survival import km_binned

Progress = Callable[[int, int, str], None]

DEFAULT_MAX_GAP_S = 3600.0    # a gap between two trusted polls longer than this is not observed time
DEFAULT_PRIME_SLOTS = ("19:00",)
DEFAULT_GUARD_MINUTES = 60    # Settings.expiry_guard_minutes: a bucket is watched until slot time - this
WINDOWS = (7, 14)
DAILY_TABLES = ("day_quality", "venue_daily", "venue_daily_hist", "market_daily", "supply_daily",
                "market_daily_hist")
ROLLING_TABLES = ("venue_rolling", "venue_rolling_party", "market_rolling", "supply_compression")


def _one(con: duckdb.DuckDBPyConnection, q: str, params: dict[str, Any] | None = None) -> Any:
    row = con.execute(q, params or {}).fetchone()
    return None if row is None else row[0]


def _np(col: pa.Array | pa.ChunkedArray, dtype: Any = np.int64) -> np.ndarray:
    """A null-free numeric / bool / temporal Arrow column as a numpy array of ``dtype``.

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
    assert arr.null_count == 0
    np_t = arr.type.to_pandas_dtype()
    out = np.frombuffer(arr.buffers()[1], dtype=np_t, count=len(arr) + arr.offset)[arr.offset:]
    return out.astype(dtype)


_PA_TYPES = {np.dtype(np.int16): pa.int16(), np.dtype(np.int32): pa.int32(), np.dtype(np.int64): pa.int64(),
             np.dtype(np.float64): pa.float64(), np.dtype("datetime64[us]"): pa.timestamp("us")}


def _pa(x: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
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


_TIME_BUCKETS = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 8, 13], dtype=np.int32)),
                                                        pa.py_buffer(b"off_peakprime")])   # pa.array() imports pandas


def aggregate_range(con: duckdb.DuckDBPyConnection, start: date, end: date, *, tz: str, min_sample: int,
                    today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                    max_gap_s: float = DEFAULT_MAX_GAP_S,
                    guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """(Re)write the per-day tables for the local days start..end inclusive, in SQL, in one pass.

    ``today`` is the local date of the run: open slots of buckets dated before it count as expired
    (the bucket prune is about to close them exactly so). Default: end + 1. Rolling tables are not
    touched (see refresh_rolling). Returns rows written per table.
    """
    if end < start:
        return {t: 0 for t in DAILY_TABLES}
    params = {"d0": start, "d1": end + timedelta(days=1), "tz": tz, "max_gap_s": float(max_gap_s),
              "prime_slots": list(prime_slots), "today": today or end + timedelta(days=1)}
    run_script(con, "nightly_prepare", **params)
    gaps = _build_gaps(con, list(prime_slots), float(max_gap_s), tz, guard_minutes)
    _build_open(con, gaps)
    before = {t: _count_range(con, t, start, end) for t in DAILY_TABLES}
    run_script(con, "nightly_daily", **{k: v for k, v in params.items() if k in ("d0", "d1", "prime_slots", "max_gap_s")},
               min_sample=int(min_sample))
    run_script(con, "nightly_market_hist", d0=params["d0"], d1=params["d1"])
    out = {t: _count_range(con, t, start, end) for t in DAILY_TABLES}
    out["replaced"] = sum(before.values())
    for t in SCRATCH_TABLES:
        con.execute("DROP TABLE IF EXISTS temp." + _ident(t, SCRATCH_TABLES))
    return out


SCRATCH_TABLES = ("nd_days", "nd_gaps", "nd_iv", "nd_pieces", "nd_open", "nd_facts")


def _ident(name: str, allowed: Sequence[str]) -> str:
    """A table name for SQL text: only names from a fixed allow-list ever reach a statement."""
    if name not in allowed:
        raise ValueError(f"table {name!r} is not one of {', '.join(allowed)}")
    return '"' + name + '"'


def _register_temp(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """CREATE OR REPLACE TEMP TABLE <name> from an Arrow table (name from the fixed nd_/rl_ set)."""
    con.register("_arrow_in", table)
    try:
        target = _ident(name, ("nd_gaps", "rl_km", "nd_open_in"))
        con.execute("CREATE OR REPLACE TEMP TABLE " + target + " AS SELECT * FROM _arrow_in")  # noqa: S608
    finally:
        con.unregister("_arrow_in")


def _arrow(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> pa.Table:
    """The whole result of a named query as an Arrow table (fully consumed: see the register gotcha)."""
    with warnings.catch_warnings():  # "extra copy" notice of DB-API results: fine for these sizes
        warnings.simplefilter("ignore", UserWarning)
        out = run(con, name, **params).to_arrow_table()
    assert isinstance(out, pa.Table)
    return out


def _build_gaps(con: duckdb.DuckDBPyConnection, prime_slots: list[str], max_gap_s: float, tz: str = "UTC",
                guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """temp.nd_gaps for the days in temp.nd_days (definition: nightly_prepare.sql header).

    One sort in numpy of the ~polls of the range instead of three partitioned window passes in SQL
    (DuckDB's partitioned running sums cost ~1 s on 225k polls here). Same rows and values as the
    SQL formulation it replaced, except that a gap now stops at the end of its local day (see below):
    for each (bucket, party size), trusted polls in started_at order; the gap runs to the next trusted
    poll, or to the day's end if that comes first; untrusted polls in between or a gap longer than
    max_gap_s make it invalid; cum = running sum of valid seconds over the polls of the range.
    """
    days = con.execute("SELECT metric_date, t0, t1 FROM nd_days ORDER BY metric_date").fetchall()
    d_t1 = np.array([r[2] for r in days], dtype="datetime64[us]").astype(np.int64)
    t0_us, t1_us = np.datetime64(days[0][1], "us").astype(np.int64), d_t1[-1]
    polls = _arrow(con, "nightly_polls", t0=days[0][1], t1=days[-1][2])
    bid = polls.column("bucket_id").combine_chunks().dictionary_encode()
    codes = _np(bid.indices)
    party = _np(polls.column("party_size"))
    t = _np(polls.column("started_at").cast(pa.timestamp("us")))
    tr = _np(polls.column("trusted"), bool)
    # watched until the bucket's expiry guard starts (slot time - guard_minutes, local): later polls
    # judge nothing (slots leaving then are expiries) and their time is not observed time
    names = bid.dictionary.to_pylist()
    zone = ZoneInfo(tz)
    guard = np.array([np.datetime64(datetime.fromisoformat(f"{n[:10]}T{n[11:16]}").replace(tzinfo=zone)
                                    .astimezone(UTC).replace(tzinfo=None) - timedelta(minutes=guard_minutes), "us")
                      .astype(np.int64) for n in names], dtype=np.int64)
    keep = t < guard[codes]
    codes, party, t, tr = codes[keep], party[keep], t[keep], tr[keep]
    key = codes * 1000 + party
    order = np.lexsort((t, key))
    key, t, tr, codes, party = key[order], t[order], tr[order], codes[order], party[order]
    # A gap ends at the next trusted poll of the same key inside the poll's local day, so a day's
    # gaps depend only on polls inside it (the nightly run at midnight, before the next poll, and a
    # later recompute agree). With no such poll, the stretch to midnight is observed when it is
    # short (<= max_gap_s), excluded when untrusted polls lie in it (an outage), and otherwise
    # simply not watched (polling of the bucket ended: its window is over, or polling hours):
    # next_t NULL, neither observed nor excluded.
    ti = np.flatnonzero(tr)
    k_tr, t_tr = key[ti], t[ti]
    day_end = np.minimum(d_t1[np.minimum(np.searchsorted(d_t1, t_tr, side="right"), len(d_t1) - 1)],
                         guard[codes[ti]])
    nxt = np.append(t_tr[1:], np.iinfo(np.int64).max)
    has_next = np.append(k_tr[1:] == k_tr[:-1], False) & (nxt < day_end)
    end = np.where(has_next, nxt, day_end)
    # untrusted polls of the same key inside (t, end) make the gap invalid
    grp = np.cumsum(tr) - 1                       # index into ti of the trusted poll at or before
    ui = np.flatnonzero(~tr)
    g_u = grp[ui]
    gi = np.maximum(g_u, 0)
    own = (g_u >= 0) & (k_tr[gi] == key[ui]) & (t[ui] < end[gi]) if len(ti) else np.zeros(len(ui), dtype=bool)
    untrusted_after = np.bincount(g_u[own], minlength=len(ti))
    span_s = (end - t_tr) / 1e6
    same_next = has_next | (untrusted_after > 0) | (span_s <= max_gap_s)   # the gap has an end
    next_t = end
    gap_s = span_s
    valid = same_next & (untrusted_after == 0) & (gap_s <= max_gap_s)
    inr = (t_tr >= t0_us) & (t_tr < t1_us)
    ti, k_tr, t_tr, next_t, gap_s, valid, same_next = (x[inr] for x in (ti, k_tr, t_tr, next_t, gap_s, valid, same_next))
    valid_s = np.where(valid, gap_s, 0.0)
    # running sum per key (keys contiguous, rows in time order)
    cs = np.cumsum(valid_s)
    start = np.ones(len(k_tr), dtype=bool)
    start[1:] = k_tr[1:] != k_tr[:-1]
    base = np.maximum.accumulate(np.where(start, np.arange(len(k_tr)), 0))
    cum = cs - np.where(base > 0, cs[base - 1], 0.0) if len(cs) else cs
    day_idx = np.searchsorted(d_t1, t_tr, side="right")
    slot = np.array([n[11:16] in prime_slots for n in names], dtype=bool)
    c = codes[ti]
    tbl = pa.table({
        "bucket_id": pa.DictionaryArray.from_arrays(_pa(c.astype(np.int32)), bid.dictionary).cast(pa.string()),
        "party_size": _pa(party[ti].astype(np.int16)),
        "time_bucket": pa.DictionaryArray.from_arrays(_pa(slot[c].astype(np.int32)), _TIME_BUCKETS).cast(pa.string()),
        "t": _pa(t_tr.astype("datetime64[us]")),
        "next_t": _pa(next_t.astype("datetime64[us]"), mask=~same_next),
        "gap_s": _pa(gap_s, mask=~same_next),
        "valid": _pa(valid),
        "metric_date": _pa(np.array([r[0] for r in days], dtype="datetime64[D]")[day_idx]),
        "valid_s": _pa(valid_s),
        "cum": _pa(cum),
    })
    _register_temp(con, "nd_gaps", tbl)
    return {"names": names, "key": k_tr, "t": t_tr, "cum": cum}


def _build_open(con: duckdb.DuckDBPyConnection, gaps: dict[str, Any]) -> None:
    """temp.nd_open: open time per venue, day, time bucket, party size (definition: nightly_daily.sql).

    The intervals of the range (nightly_open_iv.sql) are merged into islands per (venue, bucket,
    party size), split at day boundaries and measured as differences of nd_gaps.cum (the last gap
    starting at or before the piece's end minus the last one starting before its start). Done with
    one lexsort in numpy: the same computation as two partitioned window passes + two ASOF joins in
    SQL, which cost ~2 s on a 10M-event day (~166k tiny partitions).
    """
    days = con.execute("SELECT t0, t1, metric_date FROM nd_days ORDER BY metric_date").fetchall()
    d_t0 = np.array([r[0] for r in days], dtype="datetime64[us]").astype(np.int64)
    d_t1 = np.array([r[1] for r in days], dtype="datetime64[us]").astype(np.int64)
    d_md = np.array([r[2] for r in days], dtype="datetime64[D]")
    iv = _arrow(con, "nightly_open_iv")
    n = iv.num_rows
    if n:
        prov = iv.column("provider").combine_chunks().dictionary_encode()
        bid = iv.column("bucket_id").combine_chunks().dictionary_encode()
        tbk = iv.column("time_bucket").combine_chunks().dictionary_encode()
        pc_, bc = _np(prov.indices), _np(bid.indices)
        vid, party, tb = _np(iv.column("venue_id")), _np(iv.column("party_size")), _np(tbk.indices)
        a = _np(iv.column("a").cast(pa.timestamp("us")))
        z = _np(iv.column("z").cast(pa.timestamp("us")))
        o = np.lexsort((z, a, party, bc, vid, pc_))
        pc_, bc, vid, party, tb, a, z = (x[o] for x in (pc_, bc, vid, party, tb, a, z))
        start = np.ones(n, dtype=bool)
        start[1:] = (pc_[1:] != pc_[:-1]) | (vid[1:] != vid[:-1]) | (bc[1:] != bc[:-1]) | (party[1:] != party[:-1])
        # running max of z inside each group: dense ranks offset by group, one maximum.accumulate
        zu, zr = np.unique(z, return_inverse=True)
        g = np.cumsum(start) - 1
        cm = np.maximum.accumulate(g * (n + 1) + zr.ravel()) - g * (n + 1)
        new_isl = start.copy()
        new_isl[1:] |= a[1:] > zu[cm[:-1]]
        first = np.flatnonzero(new_isl)
        last = np.append(first[1:], n) - 1
        ia, iz = a[first], zu[cm[last]]
        # pieces: one per (island, day it touches)
        f_day = np.searchsorted(d_t1, ia, side="right")
        l_day = np.searchsorted(d_t0, iz, side="right") - 1
        cnt = np.maximum(l_day - f_day + 1, 0)
        rep = np.repeat(np.arange(len(first)), cnt)
        day = np.repeat(f_day, cnt) + (np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        row = first[rep]
        a2 = np.maximum(ia[rep], d_t0[day])
        z2 = np.minimum(iz[rep], d_t1[day] - 1)
        # ASOF on nd_gaps (sorted by key, t): composite (key rank, t) so one searchsorted does it
        names = {nm: i for i, nm in enumerate(gaps["names"])}
        bmap = np.array([names.get(nm, -1) for nm in bid.dictionary.to_pylist()], dtype=np.int64)
        qcode = bmap[bc[row]]
        qkey = np.where(qcode >= 0, qcode * 1000 + party[row], -1)
        gk, gt, gcum = gaps["key"], gaps["t"], gaps["cum"]
        uk = np.unique(gk)
        span = int(d_t1[-1] - d_t0[0]) + 2
        base = int(d_t0[0])
        comp = np.searchsorted(uk, gk) * span + (gt - base)
        kr = np.searchsorted(uk, qkey)
        found = (kr < len(uk)) & (uk[np.minimum(kr, max(len(uk) - 1, 0))] == qkey) if len(uk) else np.zeros(len(row), bool)

        def asof(tq: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
            i = np.searchsorted(comp, kr * span + (tq - base), side=side) - 1
            ok = found & (i >= 0)
            ok[ok] &= gk[i[ok]] == qkey[ok]
            return np.where(ok, gcum[np.maximum(i, 0)] if len(gcum) else 0.0, 0.0)
        open_s = np.maximum(asof(z2, "right") - asof(a2, "left"), 0.0)
        tbl = pa.table({
            "provider": pa.DictionaryArray.from_arrays(_pa(pc_[row].astype(np.int32)), prov.dictionary).cast(pa.string()),
            "venue_id": _pa(vid[row]),
            "metric_date": _pa(d_md[day]),
            "time_bucket": pa.DictionaryArray.from_arrays(_pa(tb[first][rep].astype(np.int32)), tbk.dictionary).cast(pa.string()),
            "party_size": _pa(party[row].astype(np.int16)),
            "open_s": _pa(open_s),
        })
    else:
        tbl = pa.table({"provider": pa.array([], pa.string()), "venue_id": pa.array([], pa.int64()),
                        "metric_date": pa.array([], pa.date32()), "time_bucket": pa.array([], pa.string()),
                        "party_size": pa.array([], pa.int16()), "open_s": pa.array([], pa.float64())})
    _register_temp(con, "nd_open_in", tbl)
    con.execute("CREATE OR REPLACE TEMP TABLE nd_open AS SELECT provider, venue_id, metric_date, time_bucket, party_size, "
                "sum(open_s) AS open_s FROM nd_open_in GROUP BY ALL")
    con.execute("DROP TABLE nd_open_in")


def aggregate_day(con: duckdb.DuckDBPyConnection, day: date, *, tz: str, min_sample: int,
                  today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                  max_gap_s: float = DEFAULT_MAX_GAP_S,
                  guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """(Re)write one local day of the per-day tables, then the rolling tables as of that day."""
    out = aggregate_range(con, day, day, tz=tz, min_sample=min_sample, today=today,
                          prime_slots=prime_slots, max_gap_s=max_gap_s, guard_minutes=guard_minutes)
    out.update(refresh_rolling(con, day, min_sample=min_sample))
    out["partial"] = bool(_one(con, "SELECT partial FROM day_quality WHERE metric_date = $d", {"d": day}))
    return out


def _count_range(con: duckdb.DuckDBPyConnection, table: str, start: date, end: date) -> int:
    assert table in DAILY_TABLES
    return int(_one(con, f"SELECT count(*) FROM {table} WHERE metric_date BETWEEN $a AND $b",  # noqa: S608
                    {"a": start, "b": end}))


def refresh_rolling(con: duckdb.DuckDBPyConnection, as_of: date, *, min_sample: int,
                    until: date | None = None) -> dict[str, int]:
    """(Re)write the rolling 7/14-day tables for as_of (..until, inclusive) from the per-day tables."""
    until = until or as_of
    a1 = until + timedelta(days=1)
    run_script(con, "rolling", a0=as_of, a1=a1, min_sample=int(min_sample))
    _rolling_km(con, as_of, a1)
    run_script(con, "rolling_write", a0=as_of, a1=a1, min_sample=int(min_sample))
    return {t: int(_one(con, f"SELECT count(*) FROM {t} WHERE as_of BETWEEN $a AND $b",  # noqa: S608
                        {"a": as_of, "b": until})) for t in ROLLING_TABLES}


def _rolling_km(con: duckdb.DuckDBPyConnection, a0: date, a1: date) -> None:
    """temp.rl_km: Kaplan-Meier medians per (as_of in [a0, a1), window 7 | 14, venue, time bucket).

    The per-day histograms of the span are read once (rolling_hist.sql); each window's merged
    histogram is a running sum (add the new day, drop the one leaving), as dense groups x bins
    matrices, and analytics.survival.km_binned runs on all groups of a window at once. Groups with
    no row in a window (nothing closed or censored) get no rl_km row, as in a GROUP BY.
    """
    h = _arrow(con, "rolling_hist", a0=a0, a1=a1)
    bins = con.execute("SELECT bin, lo_s, hi_s FROM duration_bins ORDER BY bin").fetchall()
    lo_all = np.array([b[1] for b in bins])
    hi_all = np.array([b[2] for b in bins])
    first = a0 - timedelta(days=13)
    n_days = (a1 - first).days
    prov = h.column("provider").combine_chunks().dictionary_encode()
    tb = h.column("time_bucket").combine_chunks().dictionary_encode()
    p_code = _np(prov.indices)
    t_code = _np(tb.indices)
    vid = _np(h.column("venue_id"))
    key = (p_code * 4 + t_code) * (1 << 40) + vid
    ukey, g = np.unique(key, return_inverse=True)
    g = g.astype(np.int64).ravel()
    b = _np(h.column("bin"))
    di = _np(h.column("metric_date").cast(pa.date32())) - int(np.datetime64(first, "D").astype(np.int64))
    dv = _np(h.column("d"), np.float64)
    cv = _np(h.column("c"), np.float64)
    n_g = len(ukey)
    order = np.argsort(di, kind="stable")
    di, g, b, dv, cv = di[order], g[order], b[order], dv[order], cv[order]
    bounds = np.searchsorted(di, np.arange(n_days + 1))

    # compact the bins to those used (KM is unchanged by empty bins: nothing changes there)
    used_bins = np.unique(b)
    lo, hi = lo_all[used_bins], hi_all[used_bins]
    nb = len(used_bins) if len(used_bins) else 1
    flat = g * nb + np.searchsorted(used_bins, b)

    def day(i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Dense (groups x bins) closed / censored counts of day i; None when it has no row."""
        sl = slice(bounds[i], bounds[i + 1])
        if bounds[i] == bounds[i + 1]:
            return None
        return (np.bincount(flat[sl], weights=dv[sl], minlength=n_g * nb).reshape(n_g, nb),
                np.bincount(flat[sl], weights=cv[sl], minlength=n_g * nb).reshape(n_g, nb))

    out: dict[str, list[np.ndarray]] = {k: [] for k in ("as_of", "window_days", "g", "n", "n_events", "km_median_s",
                                                        "km_median_lo_s", "km_median_hi_s", "median_close_s")}
    run = {w: (np.zeros((n_g, nb)), np.zeros((n_g, nb))) for w in WINDOWS}
    for i in range(n_days):            # day i enters every window; day i - w leaves window w
        new = day(i)
        for w in WINDOWS:
            rd, rc = run[w]
            if new is not None:
                rd += new[0]
                rc += new[1]
            old = day(i - w) if i >= w else None
            if old is not None:
                rd -= old[0]
                rc -= old[1]
            if i < 13:                 # before a0: only warming the windows up
                continue
            tot = rd.sum(axis=1) + rc.sum(axis=1)
            present = np.flatnonzero(tot > 0)
            if len(present) == n_g:
                r = km_binned(rd, rc, lo, hi)
            else:
                r = km_binned(rd[present], rc[present], lo, hi)
            out["as_of"].append(np.full(len(present), np.datetime64(first + timedelta(days=i), "D")))
            out["window_days"].append(np.full(len(present), w, dtype=np.int16))
            out["g"].append(present)
            for k in ("n", "n_events", "km_median_s", "km_median_lo_s", "km_median_hi_s", "median_close_s"):
                out[k].append(r[k])
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}
    gg = cat["g"].astype(np.int64)
    uk = ukey[gg] if len(gg) else np.zeros(0, dtype=np.int64)
    pt = uk // (1 << 40)

    def opt(x: np.ndarray) -> pa.Array:
        return _pa(x, mask=np.isnan(x))
    tbl = pa.table({
        "as_of": _pa(cat["as_of"].astype("datetime64[D]")),
        "window_days": _pa(cat["window_days"].astype(np.int16)),
        "provider": pa.DictionaryArray.from_arrays(_pa((pt // 4).astype(np.int32)), prov.dictionary).cast(pa.string()),
        "venue_id": _pa((uk % (1 << 40)).astype(np.int64)),
        "time_bucket": pa.DictionaryArray.from_arrays(_pa((pt % 4).astype(np.int32)), tb.dictionary).cast(pa.string()),
        "n": _pa(cat["n"]), "n_events": _pa(cat["n_events"]),
        "km_median_s": opt(cat["km_median_s"]), "km_median_lo_s": opt(cat["km_median_lo_s"]),
        "km_median_hi_s": opt(cat["km_median_hi_s"]), "median_close_s": opt(cat["median_close_s"]),
    })
    _register_temp(con, "rl_km", tbl)


def aggregated_days(con: duckdb.DuckDBPyConnection) -> set[date]:
    return {r[0] for r in con.execute("SELECT metric_date FROM day_quality").fetchall()}


def days_pending_prune(con: duckdb.DuckDBPyConnection, cutoff: date, tz: str) -> list[date]:
    """Local observation days of the raw events about to be pruned (bucket_date < cutoff) that have
    no aggregates yet. Bounded: only the events before the cutoff are read."""
    rows = run(con, "prune_pending_days", cutoff=cutoff).fetchall()
    return [r[0] for r in rows]


def prune_raw(con: duckdb.DuckDBPyConnection, cutoff: date) -> int:
    """Delete raw availability_events with bucket_date < cutoff whose observation day is aggregated.

    Events of a day without aggregates stay (the caller aggregates first; see run_nightly)."""
    return int(run(con, "prune_raw", cutoff=cutoff).fetchone()[0])  # type: ignore[index]


def data_days(con: duckdb.DuckDBPyConnection, tz: str) -> tuple[date, date] | None:
    """First and last local day with any poll (what recompute rebuilds)."""
    row = run(con, "data_days", tz=tz).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def recompute(con: duckdb.DuckDBPyConnection, *, tz: str, min_sample: int, today: date,
              prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS, max_gap_s: float = DEFAULT_MAX_GAP_S,
              progress: Progress | None = None, chunk_days: int = 31,
              guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """Rebuild every metric table from slot_intervals + poll_ledger (kept forever).

    Days from the first poll to yesterday (``today`` - 1) are rebuilt in chunks of ``chunk_days``
    (one SQL pass each), then the rolling tables for every day. Rows for days outside that span are
    deleted, so the result equals running the nightly job for each day in turn.
    """
    span = data_days(con, tz)
    for t in (*DAILY_TABLES, *ROLLING_TABLES):
        con.execute("DELETE FROM " + _ident(t, (*DAILY_TABLES, *ROLLING_TABLES)))  # noqa: S608 - allow-listed
    out: dict[str, Any] = {"days": 0, "rows": 0}
    if span is None:
        return out
    first, last = span[0], min(span[1], today - timedelta(days=1))
    if last < first:
        return out
    total = (last - first).days + 1
    steps = -(-total // chunk_days) + 1
    d, i = first, 0
    while d <= last:
        e = min(last, d + timedelta(days=chunk_days - 1))
        r = aggregate_range(con, d, e, tz=tz, min_sample=min_sample, today=today,
                            prime_slots=prime_slots, max_gap_s=max_gap_s, guard_minutes=guard_minutes)
        out["rows"] += sum(v for k, v in r.items() if k in DAILY_TABLES)
        i += 1
        if progress:
            progress(i, steps, f"daily {d}..{e}")
        d = e + timedelta(days=1)
    r2 = refresh_rolling(con, first, min_sample=min_sample, until=last)
    out["rows"] += sum(r2.values())
    if progress:
        progress(steps, steps, f"rolling {first}..{last}")
    out.update(days=total, first=first, last=last)
    return out
