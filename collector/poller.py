"""One bucket poll end to end: fetch (provider), judge trust, diff, and write through the single writer.

`Poller.poll(spec)` is called by the scheduler (live) and by the history builder (fast-forward):
the same parse, diff and store path either way. Every poll lands in the poll ledger; only trusted
polls move state. All rows of one poll are written in one transaction, so a kill -9 at any
instant loses nothing and duplicates nothing; deterministic ids make a re-applied poll a no-op.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from collector.buckets import BucketSpec, local_to_utc, to_local
from collector.clock import Clock
from collector.diff import DiffResult, OpenState, diff
from collector.providers.base import Outcome, PollResult, Provider, SlotKey, VenueInfo
from collector.settings import Settings
from collector.store.writer import Store

log = logging.getLogger(__name__)

RELEASE_GRACE = timedelta(minutes=15)   # a release wave is the first sighting of a venue-date...
RELEASE_MIN_SLOTS = 2                   # ...with at least this many slots new at once
VENUE_REFRESH = timedelta(hours=1)      # venues' last_seen_at is refreshed at most this often


@dataclass
class BucketState:
    """What the diff needs about one (bucket, party size), cached between polls of it."""

    calibration_done: int = 0
    calibration_tries: int = 0
    baseline_ready: bool = False
    last_trusted_at: datetime | None = None
    pending_collapse: bool = False
    prev: dict[SlotKey, OpenState] = field(default_factory=dict)
    baseline: set[SlotKey] = field(default_factory=set)


@dataclass(frozen=True)
class PollSummary:
    poll_id: str
    bucket_id: str
    party_size: int
    trusted: bool
    outcome: str
    detail: str = ""
    n_new_drop: int = 0
    n_closed: int = 0
    n_expired: int = 0
    n_baseline: int = 0
    slots_seen: int = 0
    duplicate: bool = False


def _slot_tuple_cols(keys: list[SlotKey]) -> dict[str, Any]:
    return {
        "provider": [k.provider for k in keys],
        "venue_id": pa.array([k.venue_id for k in keys], pa.int64()),
        "slot_date": pa.array([k.slot_date for k in keys], pa.date32()),
        "slot_time": pa.array([k.slot_time for k in keys], pa.time64("us")),
        "party_size": pa.array([k.party_size for k in keys], pa.int16()),
        "table_type": [k.table_type for k in keys],
    }


class Poller:
    def __init__(self, store: Store, provider: Provider, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.provider = provider
        self.settings = settings
        self.clock = clock
        self._states: dict[tuple[str, int], BucketState] = {}
        self._venues: dict[int, tuple[VenueInfo, datetime]] = {}
        self._venue_tz: dict[int, str] = {}
        self._lock = threading.Lock()

    # -- the public entry point -----------------------------------------------------------
    def poll(self, spec: BucketSpec) -> PollSummary:
        started = self.clock.now()
        t0 = _time.perf_counter()
        try:
            res = self.provider.search(spec.bucket_date, spec.time_slot, spec.party_size)
        except Exception as e:  # a provider bug must never read as "everything closed"
            log.exception("provider raised on %s/%s", spec.bucket_id, spec.party_size)
            res = PollResult(Outcome.NETWORK_ERROR, {}, {}, detail=f"provider raised {type(e).__name__}: {e}")
        res.latency_ms = res.latency_ms or (_time.perf_counter() - t0) * 1000
        return self.apply(spec, res, started, self.clock.now())

    def apply(self, spec: BucketSpec, res: PollResult, started: datetime, finished: datetime) -> PollSummary:
        """Write one poll result (trusted or not) through the single writer; returns after COMMIT."""
        skey = (spec.bucket_id, spec.party_size)
        with self._lock:
            state = self._states.get(skey)
        venues_to_write = self._venues_to_write(res, started) if res.trusted else []

        def job(cur: duckdb.DuckDBPyConnection) -> tuple[PollSummary, BucketState | None]:
            st = state if state is not None else self._load_state(cur, spec)
            return self._apply_in_tx(cur, spec, res, started, finished, st, venues_to_write)

        try:
            summary, new_state = self.store.write(job)
        except Exception:
            with self._lock:  # state unknown: reload from the file next time
                self._states.pop(skey, None)
            raise
        with self._lock:
            if new_state is not None:
                self._states[skey] = new_state
            if summary.trusted:
                for v in venues_to_write:
                    self._venues[v.venue_id] = (v, started)
        return summary

    def forget(self, bucket_ids: set[str]) -> None:
        """Drop cached state of retired buckets (after the nightly roll)."""
        with self._lock:
            for k in [k for k in self._states if k[0] in bucket_ids]:
                del self._states[k]

    def reset_cache(self) -> None:
        with self._lock:
            self._states.clear()

    # -- helpers ---------------------------------------------------------------------------
    def _venues_to_write(self, res: PollResult, now: datetime) -> list[VenueInfo]:
        out = []
        with self._lock:
            for vid, v in res.venues.items():
                self._venue_tz[vid] = v.tz
                known = self._venues.get(vid)
                if known is None or known[0] != v or now - known[1] >= VENUE_REFRESH:
                    out.append(v)
        return out

    def _tz(self, venue_id: int) -> str:
        return self._venue_tz.get(venue_id, self.settings.timezone)

    def _load_state(self, cur: duckdb.DuckDBPyConnection, spec: BucketSpec) -> BucketState:
        row = cur.execute(
            "SELECT calibration_done, calibration_tries, baseline_ready, last_trusted_at, pending_collapse "
            "FROM buckets WHERE bucket_id = $b AND party_size = $p",
            {"b": spec.bucket_id, "p": spec.party_size}).fetchall()
        if not row:
            raise KeyError(f"bucket {spec.bucket_id} party {spec.party_size} does not exist (ensure_buckets first)")
        r0 = row[0]
        st = BucketState(int(r0[0]), int(r0[1]), bool(r0[2]), r0[3], bool(r0[4]))
        for r in cur.execute(
                "SELECT provider, venue_id, slot_date, slot_time, party_size, table_type, interval_id, source, "
                "opened_lo, opened_hi, last_seen_at, is_release FROM open_slots "
                "WHERE bucket_id = $b AND party_size = $p", {"b": spec.bucket_id, "p": spec.party_size}).fetchall():
            st.prev[SlotKey(r[0], int(r[1]), r[2], r[3], int(r[4]), r[5])] = OpenState(r[6], r[7], r[8], r[9], r[10], bool(r[11]))
        for r in cur.execute(
                "SELECT provider, venue_id, slot_date, slot_time, table_type FROM baseline_slots "
                "WHERE bucket_id = $b AND party_size = $p", {"b": spec.bucket_id, "p": spec.party_size}).fetchall():
            st.baseline.add(SlotKey(r[0], int(r[1]), r[2], r[3], spec.party_size, r[4]))
        return st

    def _expired_fn(self, poll_at: datetime) -> Any:
        guard = timedelta(minutes=self.settings.expiry_guard_minutes)

        def expired(k: SlotKey) -> bool:
            start = local_to_utc(datetime.combine(k.slot_date, k.slot_time), self._tz(k.venue_id))
            return poll_at >= start - guard
        return expired

    def _is_collapse(self, st: BucketState, res: PollResult, expired: Any) -> bool:
        live_prev = [k for k in st.prev if not expired(k)]
        if len(live_prev) < self.settings.collapse_min_slots:
            return False
        lost = sum(1 for k in live_prev if k not in res.slots)
        if lost / len(live_prev) < self.settings.collapse_share:
            return False
        prev_venues = {k.venue_id for k in live_prev}
        curr_venues = {k.venue_id for k in res.slots}
        return len(curr_venues) < len(prev_venues)

    def _apply_in_tx(self, cur: duckdb.DuckDBPyConnection, spec: BucketSpec, res: PollResult, started: datetime,
                     finished: datetime, st: BucketState, venues: list[VenueInfo]) -> tuple[PollSummary, BucketState | None]:
        provider = self.provider.name
        poll_id = f"{provider}|{spec.bucket_id}|{spec.party_size}|{started.isoformat()}"
        if cur.execute("SELECT 1 FROM poll_ledger WHERE poll_id = $id", {"id": poll_id}).fetchall():
            return PollSummary(poll_id, spec.bucket_id, spec.party_size, False, "duplicate", duplicate=True), None
        phase = "live" if st.baseline_ready else "calibration"
        ledger = {"poll_id": poll_id, "provider": provider, "bucket_id": spec.bucket_id, "party_size": spec.party_size,
                  "started_at": started, "finished_at": finished, "phase": phase, "http_status": res.http_status,
                  "pages": res.pages, "requests": res.requests, "latency_ms": res.latency_ms,
                  "venues_seen": len(res.venues), "slots_seen": len(res.slots)}
        poll_at = started
        expired = self._expired_fn(poll_at)

        outcome, detail, trusted = res.outcome.value, res.detail, res.trusted
        new = replace(st, prev=st.prev, baseline=st.baseline)
        if trusted and st.baseline_ready and self._is_collapse(st, res, expired):
            if not st.pending_collapse:
                trusted, outcome = False, "suspicious_collapse"
                detail = f"{len(res.slots)} slots after {len(st.prev)}; held until a confirming poll"
                new.pending_collapse = True
            else:
                detail = "collapse confirmed by a second poll"
                new.pending_collapse = False
        elif trusted:
            new.pending_collapse = False

        if not trusted:
            self._insert_ledger(cur, ledger, False, outcome, detail, None)
            cur.execute("UPDATE buckets SET last_poll_at = $t, pending_collapse = $pc WHERE bucket_id = $b AND party_size = $p",
                        {"t": finished, "pc": new.pending_collapse, "b": spec.bucket_id, "p": spec.party_size})
            return PollSummary(poll_id, spec.bucket_id, spec.party_size, False, outcome, detail), new

        calibrating = not st.baseline_ready
        release_fn, seen_rows = self._release_info(cur, provider, spec, res, st, poll_at, calibrating)
        d = diff(st.prev, res.slots, st.baseline, trusted=True, poll_at=poll_at, prev_poll_at=st.last_trusted_at,
                 calibrating=calibrating, expired=expired, is_release=release_fn)
        self._write_diff(cur, spec, d, poll_id, poll_at, calibrating)
        if seen_rows:
            self._insert_venue_dates(cur, provider, spec, seen_rows, poll_at)
        if venues:
            self._upsert_venues(cur, venues, poll_at)

        new_prev = {k: v for k, v in st.prev.items() if k in res.slots}
        kept_ts = {k: replace(v, last_seen_at=poll_at) for k, v in new_prev.items()}
        kept_ts.update(d.opened)
        new.prev = kept_ts
        if calibrating:
            new.baseline = st.baseline | set(d.opened)
            new.calibration_tries += 1
            if res.slots:
                new.calibration_done += 1
            # Baseline = union of N non-empty polls; a bucket that stays empty is baselined (empty)
            # after 2N tries so a sold-out bucket still goes live.
            n = self.settings.calibration_polls
            new.baseline_ready = new.calibration_done >= n or new.calibration_tries >= 2 * n
        new.last_trusted_at = poll_at
        cur.execute(
            "UPDATE buckets SET last_poll_at = $f, last_trusted_at = $t, calibration_done = $cd, calibration_tries = $ct, "
            "baseline_ready = $br, baseline_slots = $bs, pending_collapse = $pc WHERE bucket_id = $b AND party_size = $p",
            {"f": finished, "t": poll_at, "cd": new.calibration_done, "ct": new.calibration_tries, "br": new.baseline_ready,
             "bs": len(new.baseline), "pc": new.pending_collapse, "b": spec.bucket_id, "p": spec.party_size})
        self._insert_ledger(cur, ledger, True, outcome, detail, d)
        return PollSummary(poll_id, spec.bucket_id, spec.party_size, True, outcome, detail, d.count("NEW_DROP"),
                           d.count("CLOSED"), d.count("EXPIRED"), d.count("BASELINE_AVAILABLE"), len(res.slots)), new

    def _release_info(self, cur: duckdb.DuckDBPyConnection, provider: str, spec: BucketSpec, res: PollResult,
                      st: BucketState, poll_at: datetime, calibrating: bool) -> tuple[Any, list[tuple[int, int]]]:
        """One batched lookup of first sightings for the bucket's date; returns (is_release, rows to insert)."""
        new_keys = [k for k in res.slots if k not in st.prev]
        if not new_keys:
            return (lambda k: False), []
        seen = {int(r[0]): (r[1], int(r[2])) for r in cur.execute(
            "SELECT venue_id, first_seen_at, first_slots FROM venue_dates_seen WHERE provider = $p AND slot_date = $d",
            {"p": provider, "d": spec.bucket_date}).fetchall()}
        per_venue = Counter(k.venue_id for k in new_keys if k.slot_date == spec.bucket_date)
        rows = [(vid, 0 if calibrating else n) for vid, n in per_venue.items() if vid not in seen]
        for vid, n in rows:
            seen[vid] = (poll_at, n)

        def is_release(k: SlotKey) -> bool:
            first = seen.get(k.venue_id)
            return first is not None and first[1] >= RELEASE_MIN_SLOTS and poll_at - first[0] <= RELEASE_GRACE
        return is_release, rows

    # -- bulk writes -----------------------------------------------------------------------
    def _insert_ledger(self, cur: duckdb.DuckDBPyConnection, ledger: dict[str, Any], trusted: bool, outcome: str,
                       detail: str, d: DiffResult | None) -> None:
        cur.execute(
            "INSERT OR IGNORE INTO poll_ledger (poll_id, provider, bucket_id, party_size, started_at, finished_at, phase, "
            "trusted, outcome, detail, http_status, pages, requests, venues_seen, slots_seen, n_new_drop, n_closed, "
            "n_expired, latency_ms) VALUES ($poll_id, $provider, $bucket_id, $party_size, $started_at, $finished_at, "
            "$phase, $trusted, $outcome, $detail, $http_status, $pages, $requests, $venues_seen, $slots_seen, $nd, $nc, "
            "$ne, $latency_ms)",
            {**ledger, "trusted": trusted, "outcome": outcome, "detail": detail or None,
             "nd": d.count("NEW_DROP") if d else 0, "nc": d.count("CLOSED") if d else 0,
             "ne": d.count("EXPIRED") if d else 0})

    def _write_diff(self, cur: duckdb.DuckDBPyConnection, spec: BucketSpec, d: DiffResult, poll_id: str,
                    poll_at: datetime, calibrating: bool) -> None:
        tz = self._tz
        if d.transitions:
            ts = d.transitions
            keys = [t.key for t in ts]
            ev = pa.table({
                "event_id": [f"{t.interval_id}|{t.kind}" for t in ts],
                "event_type": [t.kind for t in ts],
                **_slot_tuple_cols(keys),
                "bucket_id": [spec.bucket_id] * len(ts),
                "bucket_date": pa.array([spec.bucket_date] * len(ts), pa.date32()),
                "time_bucket": [spec.time_bucket] * len(ts),
                "interval_id": [t.interval_id for t in ts],
                "observed_at": pa.array([t.observed_at for t in ts], pa.timestamp("us")),
                "observed_local": pa.array([to_local(t.observed_at, tz(t.key.venue_id)) for t in ts], pa.timestamp("us")),
                "prev_poll_at": pa.array([t.prev_poll_at for t in ts], pa.timestamp("us")),
                "duration_s": pa.array([t.duration_s for t in ts], pa.float64()),
                "is_release": [t.is_release for t in ts],
                "poll_id": [poll_id] * len(ts),
            })
            cur.register("tp_events", ev)
            cur.execute("INSERT INTO availability_events SELECT * FROM tp_events")
            cur.unregister("tp_events")
        if d.ended:
            en = d.ended
            iv = pa.table({
                "interval_id": [e.state.interval_id for e in en],
                **_slot_tuple_cols([e.key for e in en]),
                "bucket_id": [spec.bucket_id] * len(en),
                "time_bucket": [spec.time_bucket] * len(en),
                "source": [e.state.source for e in en],
                "is_release": [e.state.is_release for e in en],
                "opened_lo": pa.array([e.state.opened_lo for e in en], pa.timestamp("us")),
                "opened_hi": pa.array([e.state.opened_hi for e in en], pa.timestamp("us")),
                "closed_lo": pa.array([e.closed_lo for e in en], pa.timestamp("us")),
                "closed_hi": pa.array([e.closed_hi for e in en], pa.timestamp("us")),
                "end_reason": [e.end_reason for e in en],
                "duration_s": pa.array([e.duration_s for e in en], pa.float64()),
                "opened_local": pa.array([to_local(e.state.opened_hi, tz(e.key.venue_id)) for e in en], pa.timestamp("us")),
            })
            cur.register("tp_ended", iv)
            cur.execute("INSERT OR IGNORE INTO slot_intervals SELECT * FROM tp_ended")
            cur.execute("DELETE FROM open_slots WHERE interval_id IN (SELECT interval_id FROM tp_ended)")
            cur.unregister("tp_ended")
        if d.kept:  # after the deletes, every remaining row of this bucket was seen in this poll
            cur.execute("UPDATE open_slots SET last_seen_at = $t WHERE bucket_id = $b AND party_size = $p",
                        {"t": poll_at, "b": spec.bucket_id, "p": spec.party_size})
        if d.opened:
            ks = list(d.opened)
            sts = [d.opened[k] for k in ks]
            op = pa.table({
                **_slot_tuple_cols(ks),
                "bucket_id": [spec.bucket_id] * len(ks),
                "interval_id": [s.interval_id for s in sts],
                "source": [s.source for s in sts],
                "opened_lo": pa.array([s.opened_lo for s in sts], pa.timestamp("us")),
                "opened_hi": pa.array([s.opened_hi for s in sts], pa.timestamp("us")),
                "last_seen_at": pa.array([s.last_seen_at for s in sts], pa.timestamp("us")),
                "is_release": [s.is_release for s in sts],
            })
            cur.register("tp_opened", op)
            cur.execute("INSERT OR IGNORE INTO open_slots SELECT * FROM tp_opened")
            if calibrating:
                cur.execute(
                    "INSERT OR IGNORE INTO baseline_slots SELECT bucket_id, party_size, provider, venue_id, slot_date, "
                    "slot_time, table_type FROM tp_opened")
            cur.unregister("tp_opened")

    def _insert_venue_dates(self, cur: duckdb.DuckDBPyConnection, provider: str, spec: BucketSpec,
                            rows: list[tuple[int, int]], poll_at: datetime) -> None:
        t = pa.table({"venue_id": pa.array([r[0] for r in rows], pa.int64()),
                      "first_slots": pa.array([r[1] for r in rows], pa.int32())})
        cur.register("tp_vds", t)
        cur.execute("INSERT OR IGNORE INTO venue_dates_seen SELECT $p, venue_id, $d, $t, first_slots FROM tp_vds",
                    {"p": provider, "d": spec.bucket_date, "t": poll_at})
        cur.unregister("tp_vds")

    def _upsert_venues(self, cur: duckdb.DuckDBPyConnection, venues: list[VenueInfo], now: datetime) -> None:
        t = pa.table({
            "provider": [v.provider for v in venues],
            "venue_id": pa.array([v.venue_id for v in venues], pa.int64()),
            "name": [v.name for v in venues],
            "neighborhood": [v.neighborhood for v in venues],
            "price_range": pa.array([v.price_range for v in venues], pa.int16()),
            "cuisine": [v.cuisine for v in venues],
            "tz": [v.tz for v in venues],
            "lat": pa.array([v.lat for v in venues], pa.float64()),
            "lon": pa.array([v.lon for v in venues], pa.float64()),
        })
        cur.register("tp_venues", t)
        cur.execute(
            "INSERT INTO venues SELECT provider, venue_id, name, neighborhood, price_range, cuisine, tz, lat, lon, $t, $t "
            "FROM tp_venues ON CONFLICT (provider, venue_id) DO UPDATE SET name = excluded.name, "
            "neighborhood = excluded.neighborhood, price_range = excluded.price_range, cuisine = excluded.cuisine, "
            "tz = excluded.tz, lat = excluded.lat, lon = excluded.lon, last_seen_at = excluded.last_seen_at", {"t": now})
        cur.unregister("tp_venues")
