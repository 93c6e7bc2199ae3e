"""The rolling 7- and 14-day tables (venue_rolling, venue_rolling_party, market_rolling,
supply_compression), derived from the per-day tables that analytics.nightly writes.

Called by analytics.nightly (aggregate_day, recompute) and the `tablepulse aggregate` command
through it. Definitions: rolling.sql's header; the windows of every as_of slide over one read of the
window days' rows in numpy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from analytics.arrowcols import (
    bound_heap,
    dict_col,
    ident,
    np_col,
    pa_arr,
    read_arrow,
    release_memory,
    str_array,
)
from analytics.sql_loader import run, run_script
from analytics.survival import km_sparse

WINDOWS = (7, 14)
ROLLING_TABLES = ("venue_rolling", "venue_rolling_party", "market_rolling", "supply_compression")


def refresh_rolling(con: duckdb.DuckDBPyConnection, as_of: date, *, min_sample: int,
                    until: date | None = None) -> dict[str, int]:
    """(Re)write the rolling 7/14-day tables for as_of (..until, inclusive) from the per-day tables.

    One read each of the window days' venue_daily, venue_daily_hist and day_quality rows; the
    windows of every as_of slide over them in numpy (_rolling); market_rolling and
    supply_compression are derived in SQL (rolling_write.sql)."""
    bound_heap()
    until = until or as_of
    a1 = until + timedelta(days=1)
    ven = _Venues(con)
    with ven.registered(con):
        vd = read_arrow(con, "rolling_vd", a0=as_of, a1=a1)
        vi = ven.resolve(vd)
        if until == as_of:                      # the nightly run: DuckDB sums the two windows
            win = read_arrow(con, "rolling_hist_window", a0=as_of)
            km = _window_km(win, ven.resolve(win), ven.n)
            del win
        else:
            hist = read_arrow(con, "rolling_hist", a0=as_of, a1=a1)
            cells = _HistCells(hist, ven.resolve(hist), as_of - timedelta(days=13))
            del hist                            # only the compact cells are needed from here
            km = _rolling_km(cells, ven.n, (a1 - as_of).days + 13, (a1 - as_of).days)
            del cells
    days = run(con, "rolling_days", a0=as_of, a1=a1).fetchall()
    run_script(con, "rolling", a0=as_of, a1=a1)
    n_vr = sum(_insert(con, "venue_rolling", t) for t in _rolling(ven, vd, vi, km, days, as_of, a1, int(min_sample)))
    del km
    release_memory()
    n_vrp = sum(_insert(con, "venue_rolling_party", t) for t in _rolling_party(ven, vd, days, as_of, a1, int(min_sample)))
    run_script(con, "rolling_write", a0=as_of, a1=a1, min_sample=int(min_sample))
    small = con.execute("SELECT (SELECT count(*) FROM market_rolling WHERE as_of >= $a AND as_of < $b), "
                        "(SELECT count(*) FROM supply_compression WHERE as_of >= $a AND as_of < $b)",
                        {"a": as_of, "b": a1}).fetchall()[0]
    return {"venue_rolling": n_vr, "venue_rolling_party": n_vrp,
            "market_rolling": int(small[0]), "supply_compression": int(small[1])}


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> int:
    """INSERT an Arrow table (columns in the table's order) into venue_rolling / venue_rolling_party."""
    target = ident(table, ("venue_rolling", "venue_rolling_party"))
    con.register("_rl_in", rows)
    try:
        con.execute("INSERT INTO " + target + " SELECT * FROM _rl_in")  # noqa: S608 - allow-listed
    finally:
        con.unregister("_rl_in")
    return rows.num_rows


class _Venues:
    """Venue indexes shared by one run's queries: the venues table's rows in (provider, venue_id)
    order (nightly_venues.sql, registered as temp.nd_venues), then venues met only in metric rows or
    intervals (not in the venues table), numbered on from there by ``resolve``."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.tbl = read_arrow(con, "nightly_venues")
        self.V = self.tbl.num_rows
        prov = self.tbl.column("provider").combine_chunks().dictionary_encode()
        self.prov_names: list[str] = prov.dictionary.to_pylist()
        self.pc = np_col(prov.indices)
        self.vid = np_col(self.tbl.column("venue_id"))
        self._extra: dict[tuple[str, int], int] = {}

    @contextlib.contextmanager
    def registered(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        con.register("nd_venues", pa.table({"provider": self.tbl.column("provider"), "venue_id": self.tbl.column("venue_id"),
                                            "vi": pa_arr(np.arange(self.V, dtype=np.int32))}))
        try:
            yield
        finally:
            con.unregister("nd_venues")

    def resolve(self, t: pa.Table) -> np.ndarray:
        """Column vi of a query result, with -1 (not in the venues table) replaced by extra indexes."""
        vi = np_col(t.column("vi"))
        unk = np.flatnonzero(vi < 0)
        if len(unk):
            xp = t.column("xprov").take(pa_arr(unk)).to_pylist()
            xv = np_col(t.column("xvid"))[unk].tolist()
            for p, v in sorted(set(zip(xp, xv, strict=True))):
                if (p, v) not in self._extra:
                    self._extra[(p, v)] = self.V + len(self._extra)
                    if p not in self.prov_names:
                        self.prov_names.append(p)
                    self.pc = np.append(self.pc, self.prov_names.index(p))
                    self.vid = np.append(self.vid, v)
            vi[unk] = [self._extra[pv] for pv in zip(xp, xv, strict=True)]
        return vi

    @property
    def n(self) -> int:
        return len(self.vid)


def _wsum(c: np.ndarray, s: np.ndarray, w: int) -> np.ndarray:
    """Window sums over the last axis from its cumulative sums ``c`` (leading zero): days s-w+1..s."""
    return c[..., s + 1] - c[..., np.maximum(s + 1 - w, 0)]


def _cum(x: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape[:-1] + (x.shape[-1] + 1,), dtype=np.float64)
    np.cumsum(x, axis=-1, out=out[..., 1:])
    return out


def _prank(part: np.ndarray, val: np.ndarray) -> np.ndarray:
    """percent_rank() OVER (PARTITION BY part ORDER BY val): (rank - 1) / (rows - 1), ties share
    the lowest rank, 0 for a single row."""
    n = len(part)
    out = np.zeros(n)
    if n == 0:
        return out
    o = np.lexsort((val, part))
    sp, sv = part[o], val[o]
    idx = np.arange(n)
    pnew = np.ones(n, dtype=bool)
    pnew[1:] = sp[1:] != sp[:-1]
    vnew = pnew.copy()
    vnew[1:] |= sv[1:] != sv[:-1]
    p0 = np.maximum.accumulate(np.where(pnew, idx, 0))
    r0 = np.maximum.accumulate(np.where(vnew, idx, 0))
    first = np.flatnonzero(pnew)
    size = np.diff(np.append(first, n))
    rows = np.repeat(size, size)
    out[o] = np.where(rows > 1, (r0 - p0) / np.maximum(rows - 1, 1), 0.0)
    return out


def _rolling(ven: _Venues, vd: pa.Table, vi: np.ndarray, km: np.ndarray, days: list[tuple[Any, ...]], a0: date,
             a1: date, min_sample: int) -> Iterator[pa.Table]:
    """venue_rolling for as_of in [a0, a1) (definitions: rolling.sql), one Arrow table per as_of.
    ``vi``: ven.resolve(vd); ``km``: _rolling_km's medians."""
    first = a0 - timedelta(days=13)
    NS = (a1 - first).days                         # day slots; as_of a0 is slot 13
    NA = (a1 - a0).days
    base_d = int(np.datetime64(first, "D").astype(np.int64))
    present = np.zeros(NS, dtype=np.float64)
    partial = np.zeros(NS, dtype=np.float64)
    for d, p in days:
        present[(d - first).days] = 1
        partial[(d - first).days] = bool(p)
    NV = ven.n
    di = np_col(vd.column("metric_date").cast(pa.date32())) - base_d
    pr = np_col(vd.column("prime"))
    # venue x tb x day (party sizes summed), then 'all' (index 2) = both time buckets
    cell = (vi * 2 + pr) * NS + di
    meas = ("drops", "release_drops", "cancel_drops", "closed", "closed_timed", "censored",
            "sum_close_s", "observed_s", "fully_booked_s")
    M = {m: np.bincount(cell, weights=np_col(vd.column(m), np.float64), minlength=NV * 2 * NS).reshape(NV, 2, NS)
         for m in meas}
    rows_ = np.bincount(cell, minlength=NV * 2 * NS).reshape(NV, 2, NS) > 0
    for m in meas:
        M[m] = np.concatenate([M[m], M[m].sum(axis=1, keepdims=True)], axis=1)
    pres = np.concatenate([rows_, rows_.any(axis=1, keepdims=True)], axis=1).astype(np.float64)
    dr = M["drops"]
    C = {m: _cum(M[m]) for m in meas}
    Cp, Cx2 = _cum(pres), _cum(pres * dr * dr)
    Cday, Cpart = _cum(present), _cum(partial)
    tb_names = str_array(["off_peak", "prime", "all"])
    for j in range(NA):                           # one as_of at a time: rows are per as_of (memory)
        cols: dict[str, list[np.ndarray]] = {}

        def add(k: str, x: np.ndarray, cols: dict[str, list[np.ndarray]] = cols) -> None:
            cols.setdefault(k, []).append(x)
        s = np.array(13 + j)
        for wi, w in enumerate(WINDOWS):
            n_rows = _wsum(Cp, s, w)
            v_idx, t_idx = np.nonzero(n_rows > 0)
            nr = n_rows[v_idx, t_idx]
            sums = {m: _wsum(C[m], s, w)[v_idx, t_idx] for m in meas}
            sx2 = _wsum(Cx2, s, w)[v_idx, t_idx]
            last7 = _wsum(C["drops"], s, 7)[v_idx, t_idx]
            dlast7 = _wsum(Cp, s, 7)[v_idx, t_idx]
            prev7 = (_wsum(C["drops"], s - 7, 7)[v_idx, t_idx] if w == 14 else np.zeros(len(v_idx)))
            dprev7 = (_wsum(Cp, s - 7, 7)[v_idx, t_idx] if w == 14 else np.zeros(len(v_idx)))
            add("v", v_idx)
            add("t", t_idx)
            add("as_of", np.full(len(v_idx), j))
            add("w", np.full(len(v_idx), wi))
            add("days_observed", np.full(len(v_idx), _wsum(Cday, s, w)))
            add("partial_days", np.full(len(v_idx), _wsum(Cpart, s, w)))
            for m in meas:
                add(m, sums[m])
            sx = sums["drops"]
            add("volatility", np.sqrt(np.maximum(nr * sx2 - sx * sx, 0.0)) / nr)
            add("mean_daily", sx / nr)
            add("drops_last7", last7)
            add("days_last7", dlast7)
            add("drops_prev7", prev7)
            add("days_prev7", dprev7)
            for q, name in enumerate(("km_median_s", "km_median_lo_s", "km_median_hi_s", "median_close_s")):
                add(name, km[j, wi, t_idx, v_idx, q])
        R = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
        n = len(R["v"])
        v, t = R["v"].astype(np.int64), R["t"].astype(np.int64)
        a_i, w_i = R["as_of"].astype(np.int64), R["w"].astype(np.int64)
        dobs = R["days_observed"]
        with np.errstate(divide="ignore", invalid="ignore"):
            dpd = np.where(dobs > 0, R["drops"] / dobs, np.nan)
            share = np.where(R["observed_s"] != 0, R["fully_booked_s"] / R["observed_s"], np.nan)
            rate7 = np.where(R["days_last7"] > 0, R["drops_last7"] / R["days_last7"], np.nan)
            ratep = np.where(R["days_prev7"] > 0, R["drops_prev7"] / R["days_prev7"], np.nan)
            trend_pct = np.where(ratep != 0, (100.0 * (rate7 - ratep)) / ratep, np.nan)
            rel_ch = (rate7 - ratep) / ratep
            vcv = np.where(R["mean_daily"] != 0, R["volatility"] / R["mean_daily"], np.nan)
        n_km = R["closed_timed"] + R["censored"]
        thin = n_km < min_sample
        nan_r7, nan_rp = np.isnan(rate7), np.isnan(ratep)
        trend = np.where(nan_r7 | nan_rp, 0,
                         np.where(ratep == 0, np.where(rate7 > 0, 1, 0),
                                  np.where(rel_ch >= 0.10, 1, np.where(rel_ch <= -0.10, 2, 0))))
        # scarcity: percent ranks among the non-thin rows of the same (as_of, window, time bucket)
        part = (a_i * 2 + w_i) * 3 + t
        ok = ~thin
        cb = np.full(n, np.nan)
        m1 = ok & ~np.isnan(share)
        cb[m1] = _prank(part[m1], share[m1])
        cr = np.full(n, np.nan)
        m2 = ok & ~np.isnan(dpd)
        cr[m2] = _prank(part[m2], -dpd[m2])
        cf = np.full(n, np.nan)
        kmm = R["km_median_s"]
        cf[ok] = _prank(part[ok], -np.where(np.isnan(kmm[ok]), np.inf, kmm[ok]))
        cnt = (~np.isnan(cb)).astype(np.int64) + (~np.isnan(cr)).astype(np.int64) + (~np.isnan(cf)).astype(np.int64)
        tot = (np.nan_to_num(cb) + np.nan_to_num(cr)) + np.nan_to_num(cf)
        score = np.where(ok & (cnt > 0), (100.0 * tot) / np.maximum(cnt, 1), np.nan)
        rank = np.zeros(n, dtype=np.int64)
        hs = np.flatnonzero(~np.isnan(score))
        if len(hs):
            o = np.lexsort((ven.vid[v[hs]], -score[hs], part[hs]))
            ps = part[hs][o]
            newp = np.ones(len(o), dtype=bool)
            newp[1:] = ps[1:] != ps[:-1]
            idx = np.arange(len(o))
            rank[hs[o]] = idx - np.maximum.accumulate(np.where(newp, idx, 0)) + 1
        as_of_d = np.datetime64(a0, "D") + a_i.astype("timedelta64[D]")
        win = np.array(WINDOWS, dtype=np.int16)[w_i]

        def i32(x: np.ndarray) -> pa.Array:
            return pa_arr(np.rint(x).astype(np.int32))

        def opt(x: np.ndarray) -> pa.Array:
            return pa_arr(np.nan_to_num(x), mask=np.isnan(x))
        vr = pa.table({
            "provider": dict_col(ven.pc[v], str_array(ven.prov_names)), "venue_id": pa_arr(ven.vid[v].astype(np.int64)),
            "as_of": pa_arr(as_of_d), "window_days": pa_arr(win), "time_bucket": dict_col(t, tb_names),
            "days_observed": i32(dobs), "partial_days": i32(R["partial_days"]), "drops": i32(R["drops"]),
            "drops_per_day": opt(dpd), "release_drops": i32(R["release_drops"]), "cancel_drops": i32(R["cancel_drops"]),
            "release_share": opt(np.where(R["drops"] != 0, R["release_drops"] / np.where(R["drops"] != 0, R["drops"], 1), np.nan)),
            "closed": i32(R["closed"]), "closed_timed": i32(R["closed_timed"]), "censored": i32(R["censored"]),
            "km_median_s": opt(kmm), "km_median_lo_s": opt(R["km_median_lo_s"]), "km_median_hi_s": opt(R["km_median_hi_s"]),
            "median_close_s": opt(R["median_close_s"]),
            "mean_close_s": opt(np.where(R["closed_timed"] != 0, R["sum_close_s"] / np.where(R["closed_timed"] != 0, R["closed_timed"], 1), np.nan)),
            "observed_s": pa_arr(R["observed_s"]), "fully_booked_s": pa_arr(R["fully_booked_s"]), "fully_booked_share": opt(share),
            "volatility": pa_arr(R["volatility"]), "volatility_cv": opt(vcv),
            "drops_last7": pa_arr(np.rint(R["drops_last7"]).astype(np.int32), mask=R["days_last7"] == 0),
            "drops_prev7": pa_arr(np.rint(R["drops_prev7"]).astype(np.int32), mask=R["days_prev7"] == 0),
            "trend_pct": opt(trend_pct), "trend": dict_col(trend, str_array(["flat", "up", "down"])),
            "scarcity_score": opt(score), "scarcity_rank": pa_arr(rank.astype(np.int32), mask=rank == 0),
            "n": i32(n_km), "thin": pa_arr(thin)})
        yield vr


def _rolling_party(ven: _Venues, vd: pa.Table, days: list[tuple[Any, ...]], a0: date, a1: date,
                   min_sample: int) -> Iterator[pa.Table]:
    """venue_rolling_party for as_of in [a0, a1): venue x tb x party x day, 'all' = both time buckets;
    one Arrow table per as_of."""
    first = a0 - timedelta(days=13)
    NS = (a1 - first).days
    NA = (a1 - a0).days
    present = np.zeros(NS, dtype=np.float64)
    for d, _p in days:
        present[(d - first).days] = 1
    Cday = _cum(present)
    vi = ven.resolve(vd)
    NV = ven.n
    di = np_col(vd.column("metric_date").cast(pa.date32())) - int(np.datetime64(first, "D").astype(np.int64))
    pr = np_col(vd.column("prime"))
    party = np_col(vd.column("party_size"))
    psizes = np.flatnonzero(np.bincount(party)) if len(party) else np.zeros(0, np.int64)
    NP = max(len(psizes), 1)
    plut = np.zeros(int(psizes.max()) + 1 if len(psizes) else 1, dtype=np.int64)
    plut[psizes] = np.arange(len(psizes))
    pi = plut[party]
    tb_names = str_array(["off_peak", "prime", "all"])

    def i32(x: np.ndarray) -> pa.Array:
        return pa_arr(np.rint(x).astype(np.int32))

    def opt(x: np.ndarray) -> pa.Array:
        return pa_arr(np.nan_to_num(x), mask=np.isnan(x))
    pcell = ((vi * 2 + pr) * NP + pi) * NS + di
    PM = {m: np.bincount(pcell, weights=np_col(vd.column(m), np.float64), minlength=NV * 2 * NP * NS).reshape(NV, 2, NP, NS)
          for m in ("drops", "closed_timed", "sum_close_s")}
    prow = np.bincount(pcell, minlength=NV * 2 * NP * NS).reshape(NV, 2, NP, NS) > 0
    for m in PM:
        PM[m] = np.concatenate([PM[m], PM[m].sum(axis=1, keepdims=True)], axis=1)
    prow3 = np.concatenate([prow, prow.any(axis=1, keepdims=True)], axis=1).astype(np.float64)
    PC = {m: _cum(x) for m, x in PM.items()}
    PCr = _cum(prow3)
    for j in range(NA):                           # one as_of at a time (memory)
        pc: dict[str, list[np.ndarray]] = {}
        s = np.array(13 + j)
        for wi, w in enumerate(WINDOWS):
            nr = _wsum(PCr, s, w)
            vv, tt, pp = np.nonzero(nr > 0)
            drops = _wsum(PC["drops"], s, w)
            tot_d = drops.sum(axis=2)
            for k, x in (("v", vv), ("t", tt), ("p", pp), ("as_of", np.full(len(vv), j)), ("w", np.full(len(vv), wi)),
                         ("drops", drops[vv, tt, pp]), ("tot", tot_d[vv, tt]),
                         ("closed", _wsum(PC["closed_timed"], s, w)[vv, tt, pp]),
                         ("sum_close_s", _wsum(PC["sum_close_s"], s, w)[vv, tt, pp]),
                         ("days_observed", np.full(len(vv), _wsum(Cday, s, w)))):
                pc.setdefault(k, []).append(x)
        Q = {k: np.concatenate(x) if x else np.zeros(0) for k, x in pc.items()}
        qv, qt, qp = Q["v"].astype(np.int64), Q["t"].astype(np.int64), Q["p"].astype(np.int64)
        qa, qw = Q["as_of"].astype(np.int64), Q["w"].astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            q_dpd = np.where(Q["days_observed"] > 0, Q["drops"] / Q["days_observed"], np.nan)
            q_share = np.where(Q["tot"] != 0, Q["drops"] / Q["tot"], np.nan)
            q_mean = np.where(Q["closed"] != 0, Q["sum_close_s"] / Q["closed"], np.nan)
        vrp = pa.table({
            "provider": dict_col(ven.pc[qv], str_array(ven.prov_names)), "venue_id": pa_arr(ven.vid[qv].astype(np.int64)),
            "as_of": pa_arr(np.datetime64(a0, "D") + qa.astype("timedelta64[D]")),
            "window_days": pa_arr(np.array(WINDOWS, dtype=np.int16)[qw]), "time_bucket": dict_col(qt, tb_names),
            "party_size": pa_arr(psizes[qp].astype(np.int16)), "drops": i32(Q["drops"]), "drops_per_day": opt(q_dpd),
            "share_of_drops": opt(q_share), "closed": i32(Q["closed"]), "mean_close_s": opt(q_mean),
            "n": i32(Q["drops"]), "thin": pa_arr(Q["drops"] < min_sample)})
        yield vrp


class _HistCells:
    """rolling_hist.sql's rows, compact and sorted by day: what _rolling_km slides over.

    day (int16, from ``first``), cell = (prime, venue, bin) as int32 over the bins in use, closed /
    censored counts; ~22 bytes a row instead of the Arrow table's and five 8-byte columns' ~65
    (2.3M rows on the 10M-event window)."""

    def __init__(self, h: pa.Table, hv: np.ndarray, first: date) -> None:
        b = np_col(h.column("bin"))
        self.used_bins = np.flatnonzero(np.bincount(b, minlength=142))
        self.nb = nb = len(self.used_bins)
        bl = np.zeros(142, dtype=np.int32)
        bl[self.used_bins] = np.arange(nb)
        self.nv = nv = int(hv.max()) + 1 if len(hv) else 0
        di = (np_col(h.column("metric_date").cast(pa.date32()), np.int32)
              - int(np.datetime64(first, "D").astype(np.int64))).astype(np.int16)
        order = np.argsort(di, kind="stable")              # int16: a radix sort
        self.day = di[order]
        self.cell = ((np_col(h.column("prime"), np.int32) * nv + hv.astype(np.int32)) * nb + bl[b])[order]
        self.d = np_col(h.column("d"), np.float64)[order]     # float64: np.add.at's fast path needs
        self.c = np_col(h.column("c"), np.float64)[order]     # the target's dtype (int32: 20x slower)


def _rolling_km(cells: _HistCells, NV: int, NS: int, NA: int) -> np.ndarray:
    """Kaplan-Meier medians per (as_of, window 7 | 14, venue, time bucket incl. 'all'): an
    (NA, 2, 3, NV, 4) array of km_median_s, km_median_lo_s, km_median_hi_s, median_close_s (NaN:
    not reached, or no histogram row in the window). Day 13 of ``cells`` is the first as_of.

    The per-day histograms are read once (rolling_hist.sql); each window's merged histogram is a
    running sum (add the day entering, subtract the one leaving, straight from the sorted rows, so
    no per-day matrix is kept), held as a dense groups x bins matrix; analytics.survival.km_sparse
    then runs on its non-empty cells, for all groups of a window at once, in two worker threads
    while this one slides to the next window (numpy releases the GIL).
    """
    out = np.full((NA, len(WINDOWS), 3, NV, 4), np.nan)
    if len(cells.cell) == 0:
        return out
    nb, used_bins = cells.nb, cells.used_bins
    edges = _edges(used_bins)
    cnv = cells.nv                                # venues in the cells' numbering (<= NV)
    flat = cells.cell
    if cnv != NV:                                 # renumber (prime, venue, bin) to NV venues
        pr, rest = np.divmod(flat, cnv * nb)
        flat = (pr * NV * nb + rest).astype(np.int64)
    dv, cv = cells.d, cells.c
    bounds = np.searchsorted(cells.day, np.arange(NS + 1))
    runs = {w: (np.zeros(2 * NV * nb), np.zeros(2 * NV * nb)) for w in WINDOWS}

    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = []
        for i in range(NS):
            for w in WINDOWS:
                rd, rc = runs[w]
                sl = slice(bounds[i], bounds[i + 1])
                np.add.at(rd, flat[sl], dv[sl])
                np.add.at(rc, flat[sl], cv[sl])
                if i - w >= 0:
                    sl = slice(bounds[i - w], bounds[i - w + 1])
                    np.subtract.at(rd, flat[sl], dv[sl])
                    np.subtract.at(rc, flat[sl], cv[sl])
                if i < 13:
                    continue
                o = out[i - 13, WINDOWS.index(w)].reshape(3 * NV, 4)
                pending.append(pool.submit(_km_window, rd.copy(), rc.copy(), NV, nb, edges, o))
                while len(pending) > 3:             # bounded: each queued window holds its matrices
                    pending.pop(0).result()
        for f in pending:
            f.result()
    return out


_KM_NAMES = ("km_median_s", "km_median_lo_s", "km_median_hi_s", "median_close_s")


def _edges(used_bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edges (seconds) of the log bins in use (duration_bins, migration 0002)."""
    return (np.array([0.0] + [10 ** ((k - 1) / 20) for k in range(1, 142)])[used_bins],
            np.array([10 ** (k / 20) for k in range(142)])[used_bins])


def _km_window(rd: np.ndarray, rc: np.ndarray, NV: int, nb: int, edges: tuple[np.ndarray, np.ndarray],
               o: np.ndarray) -> None:
    """Kaplan-Meier of one window into ``o`` ((3 * NV, 4): time bucket incl. 'all' x venue, then
    _KM_NAMES) from its merged histogram: closed ``rd`` / censored ``rc`` counts, dense over
    (prime, venue, bin) with ``nb`` bins. km_sparse runs on the non-empty cells only."""
    d3 = np.concatenate([rd, rd[:NV * nb] + rd[NV * nb:]])       # 'all' = both time buckets
    c3 = np.concatenate([rc, rc[:NV * nb] + rc[NV * nb:]])
    cells = np.flatnonzero(d3 + c3)                 # by group (time bucket, venue), then bin
    g, cb = np.divmod(cells, nb)
    new = np.ones(len(g), dtype=bool)
    new[1:] = g[1:] != g[:-1]
    starts = np.flatnonzero(new)
    r = km_sparse(starts, cb, d3[cells], c3[cells], edges)
    for q, k in enumerate(_KM_NAMES):
        o[g[starts], q] = r[k]


def _window_km(win: pa.Table, vi: np.ndarray, NV: int) -> np.ndarray:
    """_rolling_km's output for one as_of, from rolling_hist_window.sql's window sums (``vi``: its
    rows' venue indexes, resolved)."""
    out = np.full((1, len(WINDOWS), 3, NV, 4), np.nan)
    if win.num_rows == 0:
        return out
    b = np_col(win.column("bin"))
    used_bins = np.flatnonzero(np.bincount(b, minlength=142))
    nb = len(used_bins)
    bl = np.zeros(142, dtype=np.int64)
    bl[used_bins] = np.arange(nb)
    flat = (np_col(win.column("prime"), np.int64) * NV + vi) * nb + bl[b]
    edges = _edges(used_bins)
    for wi, w in enumerate(WINDOWS):
        rd = np.bincount(flat, weights=np_col(win.column(f"d{w}"), np.float64), minlength=2 * NV * nb)
        rc = np.bincount(flat, weights=np_col(win.column(f"c{w}"), np.float64), minlength=2 * NV * nb)
        _km_window(rd, rc, NV, nb, edges, out[0, wi].reshape(3 * NV, 4))
    return out
