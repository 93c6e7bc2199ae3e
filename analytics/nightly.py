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

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa

from analytics.arrowcols import dict_col, ident, np_col, pa_arr, read_arrow, release_memory, str_array
from analytics.rolling import ROLLING_TABLES, refresh_rolling
from analytics.sql_loader import run, run_script

Progress = Callable[[int, int, str], None]

DEFAULT_MAX_GAP_S = 3600.0    # a gap between two trusted polls longer than this is not observed time
DEFAULT_PRIME_SLOTS = ("19:00",)
DEFAULT_GUARD_MINUTES = 60    # Settings.expiry_guard_minutes: a bucket is watched until slot time - this
DAILY_TABLES = ("day_quality", "venue_daily", "venue_daily_hist", "market_daily", "supply_daily",
                "market_daily_hist")


def _one(con: duckdb.DuckDBPyConnection, q: str, params: dict[str, Any] | None = None) -> Any:
    row = con.execute(q, params or {}).fetchone()
    return None if row is None else row[0]


_TIME_BUCKETS = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 8, 13], dtype=np.int32)),
                                                        pa.py_buffer(b"off_peakprime")])   # pa.array() imports pandas


def aggregate_range(con: duckdb.DuckDBPyConnection, start: date, end: date, *, tz: str, min_sample: int,
                    today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                    max_gap_s: float = DEFAULT_MAX_GAP_S,
                    guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """(Re)write the per-day tables for the local days start..end inclusive, in one pass.

    One read of the range's polls (nightly_polls.sql) and one of its intervals
    (nightly_intervals.sql, compact columns); every per-day metric is then computed in numpy over
    those arrays (dense group indexes, bincount, a few packed int64 sorts) and written with one
    delete-then-insert per table (nightly_write.sql). Definitions: the table comments of
    collector/store/migrations/0002_metrics.sql; the SQL formulation this replaced is in git history
    (nightly_daily.sql), and tests/analytics/test_nightly.py pins the values by hand.

    ``today`` is the local date of the run (kept for callers; an expiry at bucket retirement is
    recorded by the prune that follows, so it does not change the range's facts). Default: end + 1.
    Rolling tables are not touched (see refresh_rolling). Returns rows written per table.
    """
    if end < start:
        return {t: 0 for t in DAILY_TABLES}
    rd = _read(con, start, end, tz=tz, prime_slots=list(prime_slots), max_gap_s=float(max_gap_s),
               guard_minutes=guard_minutes)
    return _write(con, rd, _daily(rd, min_sample=int(min_sample)))


@dataclass(frozen=True)
class _Read:
    """Everything aggregate_range reads from DuckDB for one range of days (the read phase)."""

    d0: date
    d1: date
    rng: _Days
    polls: dict[str, Any]
    ven: pa.Table
    iv: pa.Table
    base: list[tuple[Any, ...]]


def _read(con: duckdb.DuckDBPyConnection, start: date, end: date, *, tz: str, prime_slots: list[str],
          max_gap_s: float, guard_minutes: int) -> _Read:
    """The read phase of aggregate_range (every DuckDB read of the range; nothing is written but
    the temp.nd_days it uses). Reads only tables the per-day step never writes, so recompute may run
    it for the next chunk before this chunk's write."""
    d0, d1 = start, end + timedelta(days=1)
    run_script(con, "nightly_prepare", d0=d0, d1=d1, tz=tz)
    try:
        rng = _Days(con.execute("SELECT metric_date, weekday, t0, t1 FROM nd_days ORDER BY metric_date").fetchall())
        P = _polls(con, rng, prime_slots, max_gap_s, tz, guard_minutes)
        ven = read_arrow(con, "nightly_venues")
        vx = pa.table({"provider": ven.column("provider"), "venue_id": ven.column("venue_id"),
                       "vi": pa_arr(np.arange(ven.num_rows, dtype=np.int32))})
        keys = pa.table({"bucket_id": str_array(P["k_name"]), "party_size": pa_arr(P["k_party"].astype(np.int16)),
                         "k": pa_arr(np.arange(P["n_keys"], dtype=np.int32))})
        con.register("nd_venues", vx)
        con.register("nd_keys", keys)
        try:
            iv = read_arrow(con, "nightly_intervals", t0=rng.T0, t1=rng.T1, max_gap_s=max_gap_s,
                            prime_slots=prime_slots, tz=tz)
            base = run(con, "nightly_supply_base", t0=rng.T0).fetchall()
        finally:
            con.unregister("nd_venues")
            con.unregister("nd_keys")
    finally:
        con.execute("DROP TABLE IF EXISTS temp.nd_days")
    return _Read(d0, d1, rng, P, ven, iv, base)


def _write(con: duckdb.DuckDBPyConnection, rd: _Read, out_tables: dict[str, pa.Table]) -> dict[str, Any]:
    """The write phase: delete-then-insert the range's rows of every per-day table."""
    replaced = int(run(con, "nightly_counts", d0=rd.d0, d1=rd.d1).fetchall()[0][0])
    names = [f"nd_out_{t}" for t in DAILY_TABLES]
    try:
        for t, nm in zip(DAILY_TABLES, names, strict=True):
            con.register(nm, out_tables[t])
        run_script(con, "nightly_write", d0=rd.d0, d1=rd.d1)
    finally:
        for nm in names:
            con.unregister(nm)
    out: dict[str, Any] = {t: out_tables[t].num_rows for t in DAILY_TABLES}
    out["replaced"] = replaced
    return out


class _Days:
    """The local days of one aggregate_range call: dates, ISO weekdays, [t0, t1) as naive-UTC us."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.n = len(rows)
        self.md = np.array([r[0] for r in rows], dtype="datetime64[D]")
        self.wd = np.array([r[1] for r in rows], dtype=np.int16)
        self.t0 = np.array([r[2] for r in rows], dtype="datetime64[us]").astype(np.int64)
        self.t1 = np.array([r[3] for r in rows], dtype="datetime64[us]").astype(np.int64)
        self.T0, self.T1 = rows[0][2], rows[-1][3]

    def day(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Day index of each instant (us) and whether it lies in the range at all."""
        idx = np.searchsorted(self.t1, t, side="right")
        ok = (t >= self.t0[0]) & (t < self.t1[-1])
        return np.minimum(idx, self.n - 1), ok


def _polls(con: duckdb.DuckDBPyConnection, rng: _Days, prime_slots: list[str], max_gap_s: float, tz: str,
           guard_minutes: int) -> dict[str, Any]:
    """The range's polls (nightly_polls.sql) and its gaps, in numpy.

    Keys k = the (bucket, party size) pairs polled in the range, numbered in (bucket_id, party_size)
    order. Gap rows: one per TRUSTED poll of a key started in the range before the bucket's expiry
    guard (slot time - guard_minutes, local: later polls judge nothing, slots leaving then are
    expiries), sorted by (k, t). A gap ends at the next trusted poll of the same key inside the
    poll's local day, so a day's gaps depend only on polls inside it (the nightly run at midnight and
    a later recompute agree). With no such poll, the stretch to midnight is observed when it is short
    (<= max_gap_s), excluded when untrusted polls lie in it (an outage), and otherwise simply not
    watched (polling of the bucket ended): `has_end` False, neither observed nor excluded. A gap is
    valid (observed time) when it has an end, no untrusted poll of the key lies inside it and it is
    at most max_gap_s long. Replaces three partitioned window passes in SQL (~1 s on 225k polls).
    """
    polls = read_arrow(con, "nightly_polls", t0=rng.T0, t1=rng.T1)
    bid = polls.column("bucket_id").combine_chunks().dictionary_encode()
    names = bid.dictionary.to_pylist()
    codes = np_col(bid.indices)
    party = np_col(polls.column("party_size"))
    t = np_col(polls.column("started_at").cast(pa.timestamp("us")))
    tr = np_col(polls.column("trusted"), bool)
    order_names = np.argsort(np.array(names, dtype=object)) if names else np.zeros(0, np.int64)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order_names] = np.arange(len(names))
    kraw = rank[codes] * 65536 + party if len(codes) else np.zeros(0, np.int64)
    uk, kinv = np.unique(kraw, return_inverse=True)
    kinv = kinv.ravel().astype(np.int64)
    sorted_names = [names[i] for i in order_names]
    k_name = [sorted_names[int(u) // 65536] for u in uk]
    k_party = (uk % 65536).astype(np.int64)
    k_prime = np.array([n[11:16] in prime_slots for n in k_name], dtype=bool)
    zone = ZoneInfo(tz)
    k_guard = np.array([np.datetime64(datetime.fromisoformat(f"{n[:10]}T{n[11:16]}").replace(tzinfo=zone)
                                      .astimezone(UTC).replace(tzinfo=None) - timedelta(minutes=guard_minutes), "us")
                        .astype(np.int64) for n in k_name], dtype=np.int64)
    pday, _ = rng.day(t)
    keep = t < k_guard[kinv] if len(t) else np.zeros(0, bool)
    key, tt, trk = kinv[keep], t[keep], tr[keep]
    order = np.lexsort((tt, key))
    key, tt, trk = key[order], tt[order], trk[order]
    ti = np.flatnonzero(trk)
    g_k, g_t = key[ti], tt[ti]
    g_day, _ = rng.day(g_t)
    day_end = np.minimum(rng.t1[g_day], k_guard[g_k])
    nxt = np.append(g_t[1:], np.iinfo(np.int64).max)
    has_next = np.append(g_k[1:] == g_k[:-1], False) & (nxt < day_end)
    end = np.where(has_next, nxt, day_end)
    # untrusted polls of the same key inside (t, end) make the gap invalid
    grp = np.cumsum(trk) - 1                       # index into ti of the trusted poll at or before
    ui = np.flatnonzero(~trk)
    g_u = grp[ui]
    gi = np.maximum(g_u, 0)
    own = (g_u >= 0) & (g_k[gi] == key[ui]) & (tt[ui] < end[gi]) if len(ti) else np.zeros(len(ui), dtype=bool)
    untrusted_after = np.bincount(g_u[own], minlength=len(ti))
    gap_s = (end - g_t) / 1e6
    has_end = has_next | (untrusted_after > 0) | (gap_s <= max_gap_s)
    valid = has_end & (untrusted_after == 0) & (gap_s <= max_gap_s)
    # the longest stretch inside each day with no trusted poll of ANY (bucket, party size): the
    # collector itself was not polling (down, or cut off), as opposed to one bucket polled rarely
    # by its schedule (the history builder polls far-ahead buckets twice a day)
    at = np.sort(t[tr])
    a_day, _ = rng.day(at)
    same = a_day[1:] == a_day[:-1]
    no_poll_s = np.zeros(rng.n)
    np.maximum.at(no_poll_s, a_day[1:][same], np.diff(at)[same] / 1e6)
    failed_s = np.where(untrusted_after > 0, np.minimum(gap_s, max_gap_s), 0.0)   # see _daily: partial
    return {"k_name": k_name, "k_party": k_party, "k_prime": k_prime, "n_keys": len(uk),
            "p_day": pday, "p_key": kinv, "p_trusted": tr,
            "g_k": g_k, "g_t": g_t, "g_day": g_day, "gap_s": gap_s, "has_end": has_end, "valid": valid,
            "valid_s": np.where(valid, gap_s, 0.0), "failed_s": failed_s, "collector_down": no_poll_s > max_gap_s}


def _packed_sort(major: np.ndarray, minor: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(major, minor) sorted lexicographically via ONE np.sort of packed int64 (AVX-512 sorts 5M
    int64 in ~0.15 s here; an argsort/lexsort takes 0.7-1 s). None when they do not fit 63 bits."""
    if len(major) == 0:
        return major, minor
    if major.min() < 0 or minor.min() < 0:
        return None
    mb = int(major.max()).bit_length()
    nb = int(minor.max()).bit_length()
    if mb + nb > 63:
        return None
    p = (major.astype(np.int64) << nb) | minor.astype(np.int64)
    p.sort()
    return p >> nb, p & ((1 << nb) - 1)


class _GapSeek:
    """np.searchsorted(g_k * span + g_t, k * span + t, side="left") for gap rows sorted by (key,
    time), without the binary search (2 x 400k searches in 16k sorted keys: ~45 ms a day of
    cache-missing steps; this: ~10 ms). Cells of 2^shift us per key, about 4 cells a gap row:
    ``start[c]`` = first gap row in cell c or later, so the answer is start[c] plus the rows of
    the query's own cell earlier than t: one vectorised step per row a cell can hold (binary
    search when a cell holds many). Times are relative to the range start: 0 <= t <= span."""

    def __init__(self, g_k: np.ndarray, g_t: np.ndarray, n_keys: int, span: int) -> None:
        self.g_k, self.g_t, self.span = g_k, g_t, span
        self.shift = max(0, (span * max(n_keys, 1) // (4 * len(g_k) + 1)).bit_length() - 1)
        self.nb = (span >> self.shift) + 1
        cnt = np.bincount(g_k * self.nb + (g_t >> self.shift), minlength=max(n_keys, 1) * self.nb + 1)
        self.start = np.zeros(len(cnt) + 1, dtype=np.int64)
        np.cumsum(cnt, out=self.start[1:])
        self.depth = int(cnt.max())

    def first_at_or_after(self, k: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self.depth > 4 or len(self.g_t) == 0:
            return np.searchsorted(self.g_k * self.span + self.g_t, k * self.span + t, side="left")
        c = k * self.nb + (t >> self.shift)
        idx = self.start[c]
        end = self.start[c + 1]
        top = len(self.g_t) - 1
        for _ in range(self.depth):
            idx += (idx < end) & (self.g_t[np.minimum(idx, top)] < t)
        return idx


def _bin(d: np.ndarray) -> np.ndarray:
    """duration_bins.bin of durations in seconds (0002): 0 below 1 s, else floor(20 log10 d) + 1, <= 141."""
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.floor(20 * np.log10(np.maximum(d, 1.0))) + 1
    return np.where(d < 1, 0, np.minimum(141, b)).astype(np.int64)


def _medians(vals: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """quantile_cont(0.5) per group: ``vals`` sorted by group, then value; ``counts`` the rows of each
    group in that order. NaN for an empty group."""
    st = np.cumsum(counts) - counts
    has = np.flatnonzero(counts)
    lo = st[has] + (counts[has] - 1) // 2
    hi = st[has] + counts[has] // 2
    out = np.full(len(counts), np.nan)
    out[has] = vals[lo] + (vals[hi] - vals[lo]) * 0.5
    return out


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and where each run starts."""
    if len(sorted_keys) == 0:
        return sorted_keys, np.zeros(0, dtype=np.int64)
    new = np.ones(len(sorted_keys), dtype=bool)
    new[1:] = sorted_keys[1:] != sorted_keys[:-1]
    starts = np.flatnonzero(new)
    return sorted_keys[starts], starts


def _dense_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for non-negative keys of a modest range, in O(n + range)
    (numpy 2's np.unique hashes: ~2 s on 2M keys here; this is ~20 ms). Sort-based beyond 64M."""
    if len(keys) == 0:
        return keys.astype(np.int64), keys.astype(np.int64)
    top = int(keys.max()) + 1
    if top > 1 << 26:
        u = _runs(np.sort(keys))[0]
        return u, np.searchsorted(u, keys)
    seen = np.zeros(top, dtype=bool)
    seen[keys] = True
    u = np.flatnonzero(seen)
    lut = np.cumsum(seen) - 1
    return u, lut[keys]


def _ts(iv: pa.Table, name: str) -> np.ndarray:
    return np_col(iv.column(name).cast(pa.timestamp("us")))


def _daily(rd: _Read, *, min_sample: int) -> dict[str, pa.Table]:
    """Every per-day table of the range as Arrow tables (columns in table order): the compute phase,
    numpy only (no DuckDB call, so recompute runs it in a worker thread).

    Each per-interval array is dropped (del) as soon as its last use is past: the step's peak is a
    few interval-sized arrays, not all of them (~320 MB of numpy on a 2-day chunk otherwise)."""
    rng, P, ven, iv, base = rd.rng, rd.polls, rd.ven, rd.iv, rd.base
    ND = rng.n
    # -- venues: the table's rows, then venues seen only in intervals (not in the venues table)
    V = ven.num_rows
    v_prov = ven.column("provider").combine_chunks().dictionary_encode()
    prov_names = v_prov.dictionary.to_pylist()
    vi = np_col(iv.column("vi"))
    v_pc = np_col(v_prov.indices)
    v_id = np_col(ven.column("venue_id"))
    unk = np.flatnonzero(vi < 0)
    if len(unk):                  # venues missing from the venues table: extra indexes V, V+1, ...
        xp = iv.column("xprov").take(pa_arr(unk)).to_pylist()
        xv = np_col(iv.column("xvid"))[unk]
        pairs = sorted(set(zip(xp, xv.tolist(), strict=True)))
        idx = {p: V + i for i, p in enumerate(pairs)}
        vi[unk] = [idx[p] for p in zip(xp, xv.tolist(), strict=True)]
        for p, _v in pairs:
            if p not in prov_names:
                prov_names.append(p)
        v_pc = np.concatenate([v_pc, [prov_names.index(p) for p, _v in pairs]]).astype(np.int64)
        v_id = np.concatenate([v_id, [v for _p, v in pairs]]).astype(np.int64)
    NV = len(v_id)
    prov_dict = str_array(prov_names)
    # neighborhood / price per venue: '(unknown)' and NULL (code 0) when the venue table has none
    hood_col = ven.column("neighborhood").combine_chunks()
    hood_names = ["(unknown)"] + sorted({h for h in hood_col.to_pylist() if h is not None and h != "(unknown)"})
    hmap = {h: i for i, h in enumerate(hood_names)}
    v_hood = np.zeros(NV, dtype=np.int64)
    v_hood[:V] = [hmap.get(h, 0) if h is not None else 0 for h in hood_col.to_pylist()]
    pr = ven.column("price_range").combine_chunks()
    v_price = np.zeros(NV, dtype=np.int64)       # price_range + 1; 0 = NULL
    if V:
        v_price[:V] = np.where(np_col(pr.is_null(), bool), 0, np_col(pr, nulls=True) + 1)   # fill_null imports pandas
    NH, NPR = len(hood_names), int(v_price.max()) + 1 if NV else 1

    # -- party sizes (polls and intervals) -> dense index
    party = np_col(iv.column("party_size"), np.int16)
    psizes = np.union1d(np.unique(P["k_party"]), np.flatnonzero(np.bincount(party)) if len(party) else [])
    psizes = psizes.astype(np.int64)
    NP = max(len(psizes), 1)
    plut = np.zeros(int(psizes.max()) + 1 if len(psizes) else 1, dtype=np.int64)
    plut[psizes] = np.arange(len(psizes))
    pidx = plut[party]
    del party
    flags = np_col(iv.column("f"), np.uint8)     # bit flags: see nightly_intervals.sql
    prime = (flags & 1).astype(bool)
    NG = NV * ND * 2 * NP

    def gidx(v: np.ndarray, day: np.ndarray, pr_: np.ndarray, pi: np.ndarray) -> np.ndarray:
        return ((v * ND + day) * 2 + pr_) * NP + pi

    # -- polls per day and per (day, time bucket, party size); observed time
    g_k, g_tt, g_day = P["g_k"], P["g_t"], P["g_day"]
    p_day, p_key, p_tr = P["p_day"], P["p_key"], P["p_trusted"]
    d_tr = np.bincount(p_day[p_tr], minlength=ND)
    d_un = np.bincount(p_day[~p_tr], minlength=ND)
    comb = (p_day * 2 + P["k_prime"][p_key]) * NP + plut[P["k_party"][p_key]]
    c_tr = np.bincount(comb[p_tr], minlength=ND * 2 * NP)
    c_un = np.bincount(comb[~p_tr], minlength=ND * 2 * NP)
    g_comb = (g_day * 2 + P["k_prime"][g_k]) * NP + plut[P["k_party"][g_k]]
    c_obs = np.bincount(g_comb, weights=P["valid_s"], minlength=ND * 2 * NP)
    d_obs = np.bincount(g_day, weights=P["valid_s"], minlength=ND)
    excl_s = np.where(~P["valid"] & P["has_end"], P["gap_s"], 0.0)
    d_excl = np.bincount(g_day, weights=excl_s, minlength=ND)
    d_max = np.full(ND, -np.inf)
    he = np.flatnonzero(P["has_end"])
    np.maximum.at(d_max, g_day[he], P["gap_s"][he])
    d_tot = d_tr + d_un
    # partial (an outage day, never a quiet one): no trusted poll, >= 5% of polls untrusted, >= 5% of
    # the watched time in gaps broken by untrusted polls (each counted up to max_gap_s: a longer gap
    # is unobserved by its length alone), or a stretch longer than max_gap_s with no trusted poll of
    # any bucket. A long gap of one bucket between two trusted polls is excluded from observed time
    # (excluded_s) but is not an outage when the collector polled other buckets meanwhile: its
    # schedule polls that bucket rarely (the history builder's far-ahead buckets: twice a day).
    d_fail = np.bincount(g_day, weights=P["failed_s"], minlength=ND)
    partial = ((d_tr == 0) | (d_un * 20 >= d_tot) | (d_fail >= 0.05 * (d_obs + d_fail))
               | P["collector_down"])
    # median observed gap per day: the resolution of the day's durations (0008)
    vg = np.flatnonzero(P["valid"])
    gd, gs = g_day[vg], P["gap_s"][vg]
    med_gap = _medians(gs[np.lexsort((gs, gd))], np.bincount(gd, minlength=ND))
    del vg, gd, gs

    out: dict[str, pa.Table] = {}
    out["day_quality"] = pa.table({
        "metric_date": pa_arr(rng.md), "weekday": pa_arr(rng.wd),
        "polls_trusted": pa_arr(d_tr.astype(np.int32)), "polls_untrusted": pa_arr(d_un.astype(np.int32)),
        "trusted_share": pa_arr(d_tr / np.maximum(d_tot, 1), mask=d_tot == 0),
        "observed_s": pa_arr(d_obs), "excluded_s": pa_arr(d_excl),
        "max_gap_s": pa_arr(np.where(np.isfinite(d_max), d_max, 0.0), mask=~np.isfinite(d_max)),
        "partial": pa_arr(partial), "median_gap_s": pa_arr(np.nan_to_num(med_gap), mask=np.isnan(med_gap))})

    a = _ts(iv, "a")
    # -- drops (NEW_DROP on the day of opened_hi)
    a_day, a_in = rng.day(a)
    md = np.flatnonzero((flags & 2).astype(bool) & a_in)
    del a_in
    a_day = a_day[md]
    dv, dprime, dpidx = vi[md], prime[md], pidx[md]
    g_drop = gidx(dv, a_day, dprime, dpidx)
    drops = np.bincount(g_drop, minlength=NG)
    rel_d = (flags[md] & 4).astype(bool)
    release = np.bincount(g_drop[rel_d], minlength=NG)
    del g_drop

    # -- market_daily: drops per (day, local hour, neighborhood, price range, time bucket, party size)
    hr = np_col(iv.column("hr"))[md]
    del md
    price0 = np.maximum(v_price - 1, 0)          # market_daily: NULL price -> 0
    NPR0 = int(price0.max()) + 1 if NV else 1
    sub = ((a_day * 24 + hr) * 2 + dprime) * NP + dpidx       # (day, hour, tb, party)
    del a_day, hr, dprime, dpidx
    cell = (sub * NH + v_hood[dv]) * NPR0 + price0[dv]
    ucell, cinv = _dense_inverse(cell)
    del cell
    m_drops = np.bincount(cinv, minlength=len(ucell))
    m_rel = np.bincount(cinv[rel_d], minlength=len(ucell))
    del cinv, rel_d
    # distinct venue_id per cell: distinct (cell, venue_id) pairs
    n_sub = int(sub.max()) + 1 if len(sub) else 0
    if n_sub * NV <= 1 << 27:                            # distinct (sub-cell, venue) pairs by presence
        pres_ = np.zeros(n_sub * NV, dtype=bool)
        pres_[sub * NV + dv] = True
        pr_sub, pr_v = np.divmod(np.flatnonzero(pres_), NV)
        del pres_
    else:
        pr_sub, pr_v = np.divmod(_runs(np.sort(sub * NV + dv))[0], NV)
    del sub, dv
    pcell = np.searchsorted(ucell, (pr_sub * NH + v_hood[pr_v]) * NPR0 + price0[pr_v])
    vrank = np.searchsorted(np.sort(v_id), v_id)         # count(DISTINCT venue_id): one id may span providers
    if len(np.unique(vrank)) < NV:
        pcell = _runs(np.sort(pcell * NV + vrank[pr_v]))[0] // NV
    m_ven = np.bincount(pcell, minlength=len(ucell))
    del pr_sub, pr_v, pcell
    c_pr0, r = ucell % NPR0, ucell // NPR0
    c_h, r = r % NH, r // NH
    c_pi, r = r % NP, r // NP
    c_pr, r = r % 2, r // 2
    c_hr, c_d = r % 24, r // 24
    out["market_daily"] = pa.table({
        "metric_date": pa_arr(rng.md[c_d]), "weekday": pa_arr(rng.wd[c_d]), "hour_local": pa_arr(c_hr.astype(np.int16)),
        "neighborhood": dict_col(c_h, str_array(hood_names)), "price_range": pa_arr(c_pr0.astype(np.int16)),
        "time_bucket": dict_col(c_pr, _TIME_BUCKETS), "party_size": pa_arr(psizes[c_pi].astype(np.int16)),
        "drops": pa_arr(m_drops.astype(np.int32)), "release_drops": pa_arr(m_rel.astype(np.int32)),
        "cancel_drops": pa_arr((m_drops - m_rel).astype(np.int32)), "venues": pa_arr(m_ven.astype(np.int32)),
        "partial": pa_arr(partial[c_d])})

    # -- CLOSED on the day of closed_hi; the timed ones are the time-to-close sample
    c_day, c_in = rng.day(_ts(iv, "c"))
    mc = np.flatnonzero((flags & 8).astype(bool) & c_in)
    del c_in
    g_cl = gidx(vi[mc], c_day[mc], prime[mc], pidx[mc])
    del c_day
    closed = np.bincount(g_cl, minlength=NG)
    timed = (flags[mc] & 16).astype(bool)
    g_t = g_cl[timed]
    del g_cl
    closed_timed = np.bincount(g_t, minlength=NG)
    dur = np_col(iv.column("dur"), np.float64)[mc[timed]]
    del mc, timed
    has_d = ~np.isnan(dur)
    g_td, dur_d = g_t[has_d], dur[has_d]
    del g_t, dur, has_d
    n_dur = np.bincount(g_td, minlength=NG)
    sum_close = np.bincount(g_td, weights=dur_d, minlength=NG)
    # median (quantile_cont 0.5) per group: sort by (group, duration) once. Durations are whole
    # microseconds / 1e6 (the collector's total_seconds()), so the packed integer sort is exact.
    us = np.rint(dur_d * 1e6)
    ps = _packed_sort(g_td, us.astype(np.int64)) if bool(np.all(us / 1e6 == dur_d)) else None
    del us
    if ps is not None:
        sg, sd = ps[0], ps[1] / 1e6
    else:                         # durations that are not whole microseconds: exact, slower
        o = np.lexsort((dur_d, g_td))
        sg, sd = g_td[o], dur_d[o]
        del o
    del ps, g_td, dur_d
    median = _medians(sd, n_dur)
    # -- histogram rows (group, bin) of the closed, from the sorted durations
    hk_c = sg * 142 + _bin(sd)
    del sg
    brk = np.flatnonzero(np.diff(hk_c)) + 1 if len(hk_c) else np.zeros(0, np.int64)
    starts = np.concatenate([[0], brk]).astype(np.int64) if len(hk_c) else np.zeros(0, np.int64)
    kc = hk_c[starts]
    nc = np.diff(np.append(starts, len(hk_c)))
    sc = np.add.reduceat(sd, starts) if len(starts) else np.zeros(0)
    del hk_c, brk, starts, sd
    z = _ts(iv, "z")
    # -- censored ends (on the day the end was recorded: ended_at), at closed_lo - opened_hi; their
    # histogram rows by one packed sort
    e_day, e_in = rng.day(_ts(iv, "e"))
    ms = np.flatnonzero((flags & 32).astype(bool) & e_in)
    del e_in
    g_ce = gidx(vi[ms], e_day[ms], prime[ms], pidx[ms])
    del e_day, pidx
    censored = np.bincount(g_ce, minlength=NG)
    hk_s = np.sort(g_ce * 142 + _bin((z[ms] - a[ms]) / 1e6))
    del g_ce, ms
    ks, s_st = _runs(hk_s)
    ns = np.diff(np.append(s_st, len(hk_s)))
    del hk_s, s_st
    hk = _runs(np.sort(np.concatenate([kc, ks])))[0]
    h_closed = np.zeros(len(hk), dtype=np.int64)
    h_cens = np.zeros(len(hk), dtype=np.int64)
    h_sum = np.zeros(len(hk))
    ic = np.searchsorted(hk, kc)
    h_closed[ic], h_sum[ic] = nc, sc
    h_cens[np.searchsorted(hk, ks)] = ns
    del ic, kc, nc, sc, ks, ns

    # -- open time (index space of the gap rows)
    NGAP = len(g_k)
    span = int(rng.t1[-1] - rng.t0[0]) + 2
    base_t = int(rng.t0[0])
    cumv = np.concatenate([[0.0], np.cumsum(P["valid_s"])])
    k = np_col(iv.column("k"))
    # gap index of opened_hi / closed_lo: the first gap at or after opened_hi / the last one at or
    # before closed_lo of the same key (the poll at exactly that instant when there is one)
    kk = np.flatnonzero(k >= 0)
    qk = k[kk]
    del k
    seek = _GapSeek(g_k, g_tt - base_t, P["n_keys"], span)
    ia = seek.first_at_or_after(qk, np.clip(a[kk] - base_t, 0, span - 1))
    del a
    iz = seek.first_at_or_after(qk, np.clip(z[kk] - base_t, -1, span - 1) + 1) - 1
    del z, qk, seek
    ok_ = (ia <= iz) & (iz >= 0)
    rows = kk[ok_]
    ia, iz = ia[ok_], iz[ok_]
    del kk, ok_
    B = max(int(NGAP).bit_length(), 1)
    vp = vi[rows] * 2 + prime[rows]
    del rows, vi, prime
    srt = _packed_sort(vp, (ia << B) | iz)
    if srt is not None:
        s_vp, s_ai = srt
        s_ia, s_iz = s_ai >> B, s_ai & ((1 << B) - 1)
        del s_ai
    else:
        o = np.lexsort((iz, ia, vp))
        s_vp, s_ia, s_iz = vp[o], ia[o], iz[o]
        del o
    del srt, vp
    # supply_daily's coverage counts need only ia / iz: done now, so they can go
    cov_n = np.cumsum(np.bincount(ia, minlength=NGAP + 1) - np.bincount(iz + 1, minlength=NGAP + 1))[:NGAP]
    del ia, iz
    n_iv = len(s_vp)
    if n_iv:
        acc = np.maximum.accumulate((s_vp << B) | s_iz)
        new = np.ones(n_iv, dtype=bool)
        new[1:] = ((acc[:-1] >> B) != s_vp[1:]) | (s_ia[1:] > (acc[:-1] & ((1 << B) - 1)))
        first = np.flatnonzero(new)
        del new
        last = np.append(first[1:], n_iv) - 1
        i_s, i_e, i_vp = s_ia[first], acc[last] & ((1 << B) - 1), s_vp[first]
        del acc, first, last
    else:
        i_s = i_e = i_vp = np.zeros(0, np.int64)
    del s_vp, s_ia, s_iz
    # open time of an island = valid seconds of the gaps it covers, per day (the gap rows of a key
    # are in time order, so a one-day island is one difference of cumulative sums)
    sd_, ed_ = g_day[i_s], g_day[i_e]
    pk = g_k[i_s]
    one = sd_ == ed_
    meas = cumv[i_e[one] + 1] - cumv[i_s[one]]
    open_s = np.bincount(gidx(i_vp[one] // 2, sd_[one], i_vp[one] % 2, plut[P["k_party"][pk[one]]]),
                         weights=meas, minlength=NG)
    multi = np.flatnonzero(~one)                 # islands across midnight: one piece per day
    if len(multi):
        run_key = g_k * ND + g_day
        rk, rst = _runs(run_key)
        f_tab = np.full(P["n_keys"] * ND, NGAP, dtype=np.int64)
        l_tab = np.full(P["n_keys"] * ND, -1, dtype=np.int64)
        f_tab[rk], l_tab[rk] = rst, np.append(rst[1:], NGAP) - 1
        cnt = ed_[multi] - sd_[multi] + 1
        rep = np.repeat(multi, cnt)
        pday = np.repeat(sd_[multi], cnt) + (np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        p_s = np.maximum(i_s[rep], f_tab[pk[rep] * ND + pday])
        p_e = np.minimum(i_e[rep], l_tab[pk[rep] * ND + pday])
        okp = p_s <= p_e
        meas = np.where(okp, cumv[np.clip(p_e + 1, 0, NGAP)] - cumv[np.clip(p_s, 0, NGAP)], 0.0)
        pv = i_vp[rep]
        open_s += np.bincount(gidx(pv // 2, pday, pv % 2, plut[P["k_party"][pk[rep]]]), weights=meas, minlength=NG)


    # -- venue_daily: every venue known by the day's end x every (time bucket, party size) polled
    combos = np.flatnonzero(c_tr + c_un)
    fs = np_col(ven.column("first_seen_at").cast(pa.timestamp("us"))) if V else np.zeros(0, np.int64)
    c_day = combos // (2 * NP)
    elig = [np.flatnonzero(fs < rng.t1[d]) for d in range(ND)]
    n_el = np.array([len(elig[d]) for d in c_day], dtype=np.int64)
    r_v = np.concatenate([elig[d] for d in c_day]) if len(combos) else np.zeros(0, np.int64)
    r_c = np.repeat(combos, n_el)
    r_pi = r_c % NP
    r_pr = (r_c // NP) % 2
    r_d = r_c // (2 * NP)
    g = gidx(r_v, r_d, r_pr, r_pi)
    obs = c_obs[r_c]
    op = np.minimum(open_s[g], obs)
    nd_ = n_dur[g]
    ct = closed_timed[g]
    out["venue_daily"] = pa.table({
        "provider": dict_col(v_pc[r_v], prov_dict), "venue_id": pa_arr(v_id[r_v]),
        "metric_date": pa_arr(rng.md[r_d]), "weekday": pa_arr(rng.wd[r_d]),
        "time_bucket": dict_col(r_pr, _TIME_BUCKETS), "party_size": pa_arr(psizes[r_pi].astype(np.int16)),
        "drops": pa_arr(drops[g].astype(np.int32)), "release_drops": pa_arr(release[g].astype(np.int32)),
        "cancel_drops": pa_arr((drops[g] - release[g]).astype(np.int32)),
        "closed": pa_arr(closed[g].astype(np.int32)), "closed_timed": pa_arr(ct.astype(np.int32)),
        "censored": pa_arr(censored[g].astype(np.int32)), "sum_close_s": pa_arr(sum_close[g]),
        "mean_close_s": pa_arr(sum_close[g] / np.maximum(nd_, 1), mask=nd_ == 0),
        "median_close_s": pa_arr(np.nan_to_num(median[g]), mask=np.isnan(median[g])),
        "observed_s": pa_arr(obs), "open_s": pa_arr(op), "fully_booked_s": pa_arr(obs - op),
        "polls_trusted": pa_arr(c_tr[r_c].astype(np.int32)), "polls_untrusted": pa_arr(c_un[r_c].astype(np.int32)),
        "partial": pa_arr(partial[r_d]), "n": pa_arr(ct.astype(np.int32)), "thin": pa_arr(ct < min_sample)})

    # -- venue_daily_hist (every venue, known or not) and its market sum (market_daily_hist)
    h_g, h_bin = hk // 142, hk % 142
    h_pi, h_r = h_g % NP, h_g // NP
    h_pr, h_r = h_r % 2, h_r // 2
    h_d, h_v = h_r % ND, h_r // ND
    out["venue_daily_hist"] = pa.table({
        "provider": dict_col(v_pc[h_v], prov_dict), "venue_id": pa_arr(v_id[h_v]), "metric_date": pa_arr(rng.md[h_d]),
        "time_bucket": dict_col(h_pr, _TIME_BUCKETS), "party_size": pa_arr(psizes[h_pi].astype(np.int16)),
        "bin": pa_arr(h_bin.astype(np.int16)), "n_closed": pa_arr(h_closed.astype(np.int32)),
        "n_censored": pa_arr(h_cens.astype(np.int32)), "sum_s": pa_arr(h_sum)})
    mk = ((((h_d * 2 + h_pr) * NP + h_pi) * NH + v_hood[h_v]) * NPR + v_price[h_v]) * 142 + h_bin
    umk, inv = _dense_inverse(mk)
    m_cl = np.bincount(inv, weights=h_closed, minlength=len(umk))
    m_ce = np.bincount(inv, weights=h_cens, minlength=len(umk))
    m_su = np.bincount(inv, weights=h_sum, minlength=len(umk))
    m_bin, r = umk % 142, umk // 142
    m_pc, r = r % NPR, r // NPR
    m_h, r = r % NH, r // NH
    m_pi, r = r % NP, r // NP
    m_pr, m_d = r % 2, r // 2
    out["market_daily_hist"] = pa.table({
        "metric_date": pa_arr(rng.md[m_d]), "time_bucket": dict_col(m_pr, _TIME_BUCKETS),
        "party_size": pa_arr(psizes[m_pi].astype(np.int16)), "neighborhood": dict_col(m_h, str_array(hood_names)),
        "price_range": pa_arr((m_pc - 1).astype(np.int16), mask=m_pc == 0), "bin": pa_arr(m_bin.astype(np.int16)),
        "n_closed": pa_arr(m_cl.astype(np.int64)), "n_censored": pa_arr(m_ce.astype(np.int64)), "sum_s": pa_arr(m_su)})


    # -- supply_daily: inventory at the last trusted poll of each (day, bucket, party size)
    if NGAP:
        run_key = g_k * ND + g_day
        lastg = np.flatnonzero(np.append(run_key[1:] != run_key[:-1], True))
    else:
        lastg = np.zeros(0, np.int64)
    cov_v = np.cumsum(np.bincount(i_s, minlength=NGAP + 1) - np.bincount(i_e + 1, minlength=NGAP + 1))[:NGAP]
    base_n = {(b, int(p)): int(n) for b, p, n in base}
    sk = g_k[lastg]
    s_day = g_day[lastg]
    k_date = np.array([n[:10] for n in P["k_name"]], dtype="datetime64[D]")
    out["supply_daily"] = pa.table({
        "metric_date": pa_arr(rng.md[s_day]), "bucket_id": dict_col(sk, str_array(P["k_name"])),
        "party_size": pa_arr(P["k_party"][sk].astype(np.int16)), "bucket_date": pa_arr(k_date[sk]),
        "time_bucket": dict_col(P["k_prime"][sk].astype(np.int64), _TIME_BUCKETS),
        "lead_days": pa_arr((k_date[sk] - rng.md[s_day]).astype(np.int16)),
        "snapshot_at": pa_arr(g_tt[lastg].astype("datetime64[us]")),
        "open_slots": pa_arr(cov_n[lastg].astype(np.int32)), "open_venues": pa_arr(cov_v[lastg].astype(np.int32)),
        "baseline_slots": pa_arr(np.array([base_n.get((P["k_name"][i], int(P["k_party"][i])), 0) for i in sk],
                                       dtype=np.int32)),
        "partial": pa_arr(partial[s_day])})
    return out


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


def _spans(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """first..last (inclusive) cut into consecutive spans of at most ``days`` days."""
    out: list[tuple[date, date]] = []
    while first <= last:
        out.append((first, min(last, first + timedelta(days=max(days, 1) - 1))))
        first = out[-1][1] + timedelta(days=1)
    return out


def recompute(con: duckdb.DuckDBPyConnection, *, tz: str, min_sample: int, today: date,
              prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS, max_gap_s: float = DEFAULT_MAX_GAP_S,
              progress: Progress | None = None, chunk_days: int = 2, rolling_chunk_days: int = 14,
              guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """Rebuild every metric table from slot_intervals + poll_ledger (kept forever).

    Days from the first poll to yesterday (``today`` - 1) are rebuilt in chunks of ``chunk_days``
    (one read of polls and intervals each; small chunks keep the peak memory low and were also
    the fastest on the 10M-event bench window), then the rolling tables in chunks of
    ``rolling_chunk_days`` as_of days (each reads its days and the 13 before: the memory of a
    recompute stays that of a few weeks however long the history). Rows for days outside that span
    are deleted, so the result equals running the nightly job for each day in turn.
    """
    span = data_days(con, tz)
    for t in (*DAILY_TABLES, *ROLLING_TABLES):
        con.execute("DELETE FROM " + ident(t, (*DAILY_TABLES, *ROLLING_TABLES)))  # noqa: S608 - allow-listed
    out: dict[str, Any] = {"days": 0, "rows": 0}
    if span is None:
        return out
    first, last = span[0], min(span[1], today - timedelta(days=1))
    if last < first:
        return out
    total = (last - first).days + 1
    chunks = _spans(first, last, chunk_days)
    rolling_chunks = _spans(first, last, rolling_chunk_days)
    steps = len(chunks) + len(rolling_chunks)
    slots = list(prime_slots)

    def read(i: int) -> _Read:
        return _read(con, *chunks[i], tz=tz, prime_slots=slots, max_gap_s=float(max_gap_s),
                     guard_minutes=guard_minutes)

    # Pipelined on one connection: the worker thread computes chunk i (numpy, no DuckDB call) while
    # this thread reads chunk i + 1 (DuckDB and numpy release the GIL); every DuckDB call stays on
    # this thread, in order, inside the caller's transaction. The read of i + 1 before the write
    # of i is safe: reads touch only tables the per-day step never writes.
    with ThreadPoolExecutor(max_workers=1) as pool:
        rd: _Read | None = read(0)
        fut: Future[dict[str, pa.Table]] | None
        for i, (d, e) in enumerate(chunks):
            assert rd is not None
            fut = pool.submit(_daily, rd, min_sample=int(min_sample))
            nxt = read(i + 1) if i + 1 < len(chunks) else None
            r = _write(con, rd, fut.result())
            rd, fut = nxt, None
            out["rows"] += sum(v for k, v in r.items() if k in DAILY_TABLES)
            release_memory()
            if progress:
                progress(i + 1, steps, f"daily {d}..{e}")
    for j, (a, b) in enumerate(rolling_chunks, len(chunks) + 1):
        out["rows"] += sum(refresh_rolling(con, a, min_sample=min_sample, until=b).values())
        release_memory()
        if progress:
            progress(j, steps, f"rolling {a}..{b}")
    out.update(days=total, first=first, last=last)
    return out
