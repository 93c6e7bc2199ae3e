"""One bucket poll end to end: fetch (provider), judge trust (docs/trust-rules.md), diff, and hand
the rows to the single writer.

`Poller.poll(spec)` is called by the scheduler (live) and by the history builder (fast-forward):
the same parse, diff and store path either way. Every poll lands in the poll ledger; only trusted
polls move state. The diff runs in the polling thread against cached bucket state and turns into
plain rows (collector/store/polls.PollWrite); the rows of all polls waiting at that moment are
merged and written by the store with one statement per table in one transaction (DuckDB costs 1-4
ms per statement). A poll returns only after its COMMIT, so a kill -9 loses nothing; a poll whose
poll_id is already in the ledger writes nothing, so a re-applied poll or a restart duplicates nothing."""

from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import filterfalse, islice
from typing import Any

import duckdb

from collector.buckets import BucketSpec, local_to_utc, to_local
from collector.clock import Clock
from collector.diff import DiffResult, OpenState, diff
from collector.providers.base import Outcome, PollResult, Provider, SlotKey, VenueInfo
from collector.store.polls import PollWrite, write_polls
from collector.store.writer import Store
from tablepulse_settings import Settings

log = logging.getLogger(__name__)

# docs/trust-rules.md: a suspicious answer is believed once at least this many consecutive answers
# agree on it and span collapse_confirm_s (a failed poll between them starts the streak again)...
MIN_AGREEING = 3
# ...and an answer with every open slot gone is believed alone when the bucket's close rate makes
# all of them closing since its last trusted answer at least this likely
EMPTY_PLAUSIBLE = 0.9
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
    # the streak of suspicious answers held against the last trusted state (docs/trust-rules.md):
    # start of its first answer (None when nothing is held) and how many answers agree so far
    collapse_since: datetime | None = None
    collapse_answers: int = 0
    # the bucket's own history (trusted answers only): slots seen to close, and open slot-seconds
    # observed (open slots x seconds between consecutive trusted answers, gaps left out)
    closes_seen: int = 0
    open_slot_s: float = 0.0
    prev: dict[SlotKey, OpenState] = field(default_factory=dict)
    baseline: set[SlotKey] = field(default_factory=set)
    # No slot of prev is past its cut-off before this instant (a lower bound of their cut-offs, valid
    # while the venues' zones are those of tz_version): most polls then skip a per-slot expiry check.
    expiry_floor: datetime | None = None
    tz_version: int = -1


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


def _slot(k: SlotKey) -> dict[str, Any]:
    return {"provider": k.provider, "venue_id": k.venue_id, "slot_date": k.slot_date, "slot_time": k.slot_time,
            "party_size": k.party_size, "table_type": k.table_type}


@dataclass
class PollRows:
    """One poll's outcome: what it writes (plain rows for the store) and the bucket state after it."""

    poll_id: str
    spec: BucketSpec
    started_at: datetime
    state: BucketState
    write: PollWrite
    venues: list[VenueInfo] = field(default_factory=list)   # written with it: known to this process after


class _Batcher:
    """Merges the rows of every poll waiting for the writer into one job (one statement per table).

    Each submit returns a Future resolved after the COMMIT that contains its rows (True: written,
    False: its poll_id was already in the ledger, so nothing was written)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._pending: list[tuple[PollRows, Future[bool]]] = []
        self._scheduled = False

    def submit_many(self, many: list[PollRows]) -> list[Future[bool]]:
        """Queue rows; everything queued before the writer picks the job up shares one commit."""
        futs: list[Future[bool]] = [Future() for _ in many]
        with self._lock:
            self._pending.extend(zip(many, futs, strict=True))
            if self._scheduled:
                return futs
            self._scheduled = True
        batch: list[tuple[PollRows, Future[bool]]] | None = None

        def job(cur: duckdb.DuckDBPyConnection) -> set[str]:
            nonlocal batch
            if batch is None:      # a job retried by the writer (its group failed) writes the batch it took
                with self._lock:
                    batch, self._pending = self._pending, []
                    self._scheduled = False
            return write_polls(cur, [r.write for r, _ in batch])

        def done(f: Future[set[str]]) -> None:
            err = f.exception()
            for r, fu in batch or []:
                if err is not None:
                    fu.set_exception(err)
                else:
                    fu.set_result(r.poll_id not in f.result())
        try:
            self.store.submit(job).add_done_callback(done)
        except Exception as e:
            with self._lock:
                pending = list(self._pending)
                self._pending, self._scheduled = [], False
            for _r, fu in pending:
                if not fu.done():
                    fu.set_exception(e)
        return futs


class Poller:
    def __init__(self, store: Store, provider: Provider, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.provider = provider
        self.settings = settings
        self.clock = clock
        self._states: dict[tuple[str, int], BucketState] = {}
        self._venue_tz: dict[int, str] = {}
        # venues this process wrote (as written, and when: their poll's start); updated by _written after
        # the COMMIT
        self._venue_obj: dict[int, VenueInfo] = {}
        self._venue_at: dict[int, datetime] = {}
        self._oldest_write: datetime | None = None
        self._tz_version = 0      # bumped when a venue's zone changes: expiry floors are recomputed
        self._cutoffs: dict[tuple[str, Any, Any], datetime] = {}
        self._first_seen: dict[Any, dict[int, tuple[datetime, int]]] = {}
        self._lock = threading.Lock()
        self._batcher = _Batcher(store)

    # -- the public entry point -----------------------------------------------------------
    def poll(self, spec: BucketSpec) -> PollSummary:
        return self.apply(*self._fetch(spec))

    def _fetch(self, spec: BucketSpec) -> tuple[BucketSpec, PollResult, datetime, datetime]:
        """One provider search, timed on the injected clock; a provider bug becomes an untrusted poll
        (it must never read as "everything closed")."""
        started = self.clock.now()
        t0 = _time.perf_counter()
        try:
            res = self.provider.search(spec.bucket_date, spec.time_slot, spec.party_size, now=self.clock.now)
        except Exception as e:
            log.exception("provider raised on %s/%s", spec.bucket_id, spec.party_size)
            res = PollResult(Outcome.NETWORK_ERROR, {}, {}, detail=f"provider raised {type(e).__name__}: {e}")
        res.latency_ms = res.latency_ms or (_time.perf_counter() - t0) * 1000
        return spec, res, started, self.clock.now()

    def apply(self, spec: BucketSpec, res: PollResult, started: datetime, finished: datetime) -> PollSummary:
        """Diff one poll result (trusted or not) and write it; returns after its COMMIT."""
        return self.apply_many([(spec, res, started, finished)])[0]

    def poll_many(self, specs: list[BucketSpec], pool: Any) -> list[PollSummary]:
        """Fetch several buckets concurrently, then diff and write them all in one commit (fast-forward
        history: the same parse, diff and store path as live polls, one transaction per round)."""
        return self.apply_many(list(pool.map(self._fetch, specs)))

    def apply_many(self, polls: list[tuple[BucketSpec, PollResult, datetime, datetime]]) -> list[PollSummary]:
        computed = []
        for spec, res, started, finished in polls:
            skey = (spec.bucket_id, spec.party_size)
            with self._lock:
                state = self._states.get(skey)
            if state is None:
                with self.store.cursor() as cur:
                    state = self._load_state(cur, spec)
            computed.append(self._compute(spec, res, started, finished, state))
        futs = self._batcher.submit_many([rows for _s, rows in computed])
        out: list[PollSummary] = []
        error: BaseException | None = None
        for (summary, rows), fut in zip(computed, futs, strict=True):
            skey = (rows.spec.bucket_id, rows.spec.party_size)
            try:
                written = fut.result()
            except Exception as e:
                error = e
                with self._lock:  # state unknown: reload from the file next time
                    self._states.pop(skey, None)
                    self._first_seen.pop((self.provider.name, rows.spec.bucket_date), None)
                continue
            with self._lock:
                if not written:
                    self._states.pop(skey, None)
                else:
                    self._states[skey] = rows.state
                    self._written(rows.venues, rows.started_at)
            out.append(summary if written else PollSummary(rows.poll_id, rows.spec.bucket_id, rows.spec.party_size,
                                                           False, "duplicate", duplicate=True))
        if error is not None:
            raise error
        return out

    def forget(self, bucket_ids: set[str]) -> None:
        """Drop cached state of retired buckets (after the nightly roll)."""
        with self._lock:
            for k in [k for k in self._states if k[0] in bucket_ids]:
                del self._states[k]

    def reset_cache(self) -> None:
        with self._lock:
            self._states.clear()
            self._first_seen.clear()

    # -- helpers ---------------------------------------------------------------------------
    def _written(self, venues: list[VenueInfo], at: datetime) -> None:
        """Venues now in the file as of ``at`` (their poll's start); under self._lock, after the COMMIT."""
        for v in venues:
            self._venue_obj[v.venue_id] = v
            self._venue_at[v.venue_id] = at
        if venues:
            self._oldest_write = min(self._venue_at.values())

    def _venues_to_write(self, res: PollResult, now: datetime) -> list[VenueInfo]:
        """Venues to write: new to this process, changed, or due for a last_seen_at refresh."""
        stale = now - VENUE_REFRESH     # written at or before this: due for a refresh
        with self._lock:
            known, at = self._venue_obj.get, self._venue_at
            if self._oldest_write is not None and self._oldest_write <= stale:
                out = [v for vid, v in res.venues.items() if known(vid) != v or at[vid] <= stale]
            else:   # most polls: none is due for a refresh, only new or changed venues are written
                out = [v for vid, v in res.venues.items() if known(vid) != v]
            for v in out:
                if self._venue_tz.get(v.venue_id) != v.tz:
                    if v.venue_id in self._venue_tz:
                        self._tz_version += 1
                    self._venue_tz[v.venue_id] = v.tz
        return out

    def _tz(self, venue_id: int) -> str:
        return self._venue_tz.get(venue_id, self.settings.timezone)

    def _load_state(self, cur: duckdb.DuckDBPyConnection, spec: BucketSpec) -> BucketState:
        row = cur.execute(
            "SELECT calibration_done, calibration_tries, baseline_ready, last_trusted_at, collapse_since, "
            "collapse_answers, closes_seen, open_slot_s FROM buckets WHERE bucket_id = $b AND party_size = $p",
            {"b": spec.bucket_id, "p": spec.party_size}).fetchall()
        if not row:
            raise KeyError(f"bucket {spec.bucket_id} party {spec.party_size} does not exist (ensure_buckets first)")
        r0 = row[0]
        st = BucketState(int(r0[0]), int(r0[1]), bool(r0[2]), r0[3], r0[4], int(r0[5]), int(r0[6]), float(r0[7]))
        for r in cur.execute(
                "SELECT provider, venue_id, slot_date, slot_time, party_size, table_type, interval_id, source, "
                "opened_lo, opened_hi, is_release FROM open_slots "
                "WHERE bucket_id = $b AND party_size = $p", {"b": spec.bucket_id, "p": spec.party_size}).fetchall():
            st.prev[SlotKey(r[0], int(r[1]), r[2], r[3], int(r[4]), r[5])] = OpenState(r[6], r[7], r[8], r[9], bool(r[10]))
        for r in cur.execute(
                "SELECT provider, venue_id, slot_date, slot_time, table_type FROM baseline_slots "
                "WHERE bucket_id = $b AND party_size = $p", {"b": spec.bucket_id, "p": spec.party_size}).fetchall():
            st.baseline.add(SlotKey(r[0], int(r[1]), r[2], r[3], spec.party_size, r[4]))
        return st

    def _cutoff(self, k: SlotKey) -> datetime:
        """The UTC instant from which slot k counts as expired (booking cut-off guard before its start)."""
        m = (self._venue_tz.get(k.venue_id, self.settings.timezone), k.slot_date, k.slot_time)
        c = self._cutoffs.get(m)
        if c is None:   # a poll has a handful of distinct (zone, date, time): convert each once
            if len(self._cutoffs) > 100_000:
                self._cutoffs.clear()
            c = self._cutoffs[m] = (local_to_utc(datetime.combine(m[1], m[2]), m[0])
                                    - timedelta(minutes=self.settings.expiry_guard_minutes))
        return c

    def _expired_fn(self, poll_at: datetime) -> Any:
        cutoff = self._cutoff

        def expired(k: SlotKey) -> bool:
            return poll_at >= cutoff(k)
        return expired

    def _none_expired(self, st: BucketState, poll_at: datetime) -> bool:
        """True when no slot of st.prev is past its cut-off at poll_at (exact: checks every slot
        whenever the cached floor does not settle it, and refreshes the floor)."""
        if st.expiry_floor is None or st.tz_version != self._tz_version or poll_at >= st.expiry_floor:
            st.expiry_floor = min(map(self._cutoff, st.prev), default=None)
            st.tz_version = self._tz_version
        return st.expiry_floor is None or poll_at < st.expiry_floor

    def _suspicion(self, st: BucketState, curr: Any, gone: list[SlotKey], expired: Any, poll_at: datetime,
                   poll_end: datetime) -> str:
        """Why a trusted answer is not believed on its own against the last trusted state ('' when it
        is): docs/trust-rules.md, rules E (every live slot gone at once) and L (more lost at once than
        the bucket's own history makes plausible). Slots past their cut-off by the poll's end left by
        expiry and are not counted."""
        if not gone:
            return ""
        if self._none_expired(st, poll_end):
            live, lost = len(st.prev), len(gone)
        else:
            live = sum(1 for k in st.prev if not expired(k))
            lost = sum(1 for k in gone if not expired(k))
        if not lost:
            return ""
        elapsed = (poll_at - st.last_trusted_at).total_seconds() if st.last_trusted_at else 0.0
        rate = st.closes_seen / st.open_slot_s if st.open_slot_s > 0 else 0.0   # per open slot-second
        if lost == live:
            # believed alone only when the history makes every one of them closing in this time likely
            p_all = (1.0 - math.exp(-rate * elapsed)) ** live
            if p_all < EMPTY_PLAUSIBLE:
                return f"all {live} open slots gone at once ({len(curr)} slots in the answer)"
            return ""
        if lost < self.settings.collapse_share * live:
            return ""
        expected = rate * live * elapsed
        # a Poisson count with this mean exceeds mean + 4 sd + 1 well under once in a thousand polls
        allowed = expected + 4 * math.sqrt(expected) + 1
        if lost <= allowed:
            return ""
        return (f"{lost} of {live} open slots gone at once; the bucket's history allows about {allowed:.0f} "
                f"in {elapsed:.0f} s")

    def _hold(self, st: BucketState, new: BucketState, why: str, poll_at: datetime) -> str:
        """A suspicious answer: extend (or start) the streak of answers agreeing on it. Returns '' when
        the streak now confirms it (rule C), else the ledger detail of the hold."""
        confirm = self.settings.collapse_confirm_s
        since = st.collapse_since if st.collapse_since is not None else poll_at
        answers = st.collapse_answers + 1
        span = (poll_at - since).total_seconds()
        if span >= confirm and answers >= MIN_AGREEING:
            new.collapse_since, new.collapse_answers = None, 0
            return ""
        new.collapse_since, new.collapse_answers = since, answers
        return f"{why}; held: {answers} agreeing answers span {span:.0f} of {confirm:.0f} s"

    @staticmethod
    def _seen_at(curr: Any, prev: Any, res: PollResult) -> tuple[list[SlotKey], dict[SlotKey, datetime] | None]:
        """The poll's keys not in prev (in curr's order) and, per key, when the page showing it arrived."""
        if not res.page_times or len(res.page_ends) != len(res.page_times) or res.page_ends[-1] != len(curr):
            return list(filterfalse(prev.__contains__, curr)), None
        it, done, seen = iter(curr), 0, {}
        for (_sent, received), upto in zip(res.page_times, res.page_ends, strict=True):
            for k in filterfalse(prev.__contains__, islice(it, upto - done)):
                seen[k] = received
            done = upto
        return list(seen), seen

    def _compute(self, spec: BucketSpec, res: PollResult, started: datetime, finished: datetime,
                 st: BucketState) -> tuple[PollSummary, PollRows]:
        provider = self.provider.name
        curr = res.slots   # the poll's slot keys
        poll_id = f"{provider}|{spec.bucket_id}|{spec.party_size}|{started.isoformat()}"
        phase = "live" if st.baseline_ready else "calibration"
        ledger = {"poll_id": poll_id, "provider": provider, "bucket_id": spec.bucket_id, "party_size": spec.party_size,
                  "started_at": started, "finished_at": finished, "phase": phase, "http_status": res.http_status,
                  "pages": res.pages, "requests": res.requests, "latency_ms": res.latency_ms,
                  "venues_seen": len(res.venues), "slots_seen": len(curr),
                  "n_new_drop": 0, "n_closed": 0, "n_expired": 0}
        poll_at = started
        # a slot whose cut-off falls before the poll's end may have left by expiry: never a close
        expired = self._expired_fn(finished)
        outcome, detail, trusted = res.outcome.value, res.detail, res.trusted
        new = replace(st)
        # what left since the last trusted poll: one C-level pass, shared by the trust rules and the diff
        gone = list(filterfalse(curr.__contains__, st.prev)) if trusted else []
        why = self._suspicion(st, curr, gone, expired, poll_at, finished) if trusted else ""
        if why:
            held = self._hold(st, new, why, poll_at)
            if held:
                trusted, outcome, detail = False, "suspicious_collapse", held
            else:
                detail = f"{why}; confirmed: agreeing answers span {self.settings.collapse_confirm_s:.0f} s"
        else:   # believed, or a failed poll: we do not know what the upstream said, the streak breaks
            new.collapse_since, new.collapse_answers = None, 0
        ledger.update(trusted=trusted, outcome=outcome, detail=detail or None)
        if not trusted:
            return (PollSummary(poll_id, spec.bucket_id, spec.party_size, False, outcome, detail),
                    PollRows(poll_id, spec, started, new, PollWrite(poll_id, ledger, self._bucket_row(spec, new, finished))))

        calibrating = not st.baseline_ready
        new_keys, seen_at = self._seen_at(curr, st.prev, res)
        release_fn, seen_rows = self._release_info(provider, spec, new_keys, st, poll_at, calibrating)
        d = diff(st.prev, curr, st.baseline, trusted=True, poll_at=poll_at, prev_poll_at=st.last_trusted_at,
                 calibrating=calibrating, expired=expired, is_release=release_fn, max_gap_s=self.settings.max_gap_s,
                 new=new_keys, gone=gone, poll_end=finished, seen_at=seen_at)
        elapsed = (poll_at - st.last_trusted_at).total_seconds() if st.last_trusted_at else None
        if elapsed is not None and elapsed <= self.settings.max_gap_s:   # the bucket's history (rule L)
            new.open_slot_s += len(st.prev) * elapsed
            new.closes_seen += sum(1 for e in d.ended if e.end_reason == "closed")
        new.prev = dict(st.prev)    # minus what left (ended, not censored: those are re-opened), plus opened
        for e in d.ended:
            if e.end_reason != "censored":
                del new.prev[e.key]
        new.prev.update(d.opened)
        new.expiry_floor, new.tz_version = st.expiry_floor, st.tz_version   # may be refreshed by _none_expired
        if new.expiry_floor is not None and d.opened:
            new.expiry_floor = min(new.expiry_floor, min(map(self._cutoff, d.opened)))
        if calibrating:
            new.baseline = st.baseline | set(d.opened)
            new.calibration_tries += 1
            if curr:
                new.calibration_done += 1
            # Baseline = union of N non-empty polls; a bucket that stays empty is baselined (empty)
            # after 2N tries so a sold-out bucket still goes live.
            n = self.settings.calibration_polls
            new.baseline_ready = new.calibration_done >= n or new.calibration_tries >= 2 * n
        new.last_trusted_at = poll_at
        counts = (d.count("NEW_DROP"), d.count("CLOSED"), d.count("EXPIRED"), d.count("BASELINE_AVAILABLE"))
        ledger.update(n_new_drop=counts[0], n_closed=counts[1], n_expired=counts[2])
        venues = self._venues_to_write(res, started)
        write = self._diff_rows(spec, PollWrite(poll_id, ledger, self._bucket_row(spec, new, finished)), d,
                                poll_at, finished, calibrating, seen_rows, venues, started)
        rows = PollRows(poll_id, spec, started, new, write, venues)
        return (PollSummary(poll_id, spec.bucket_id, spec.party_size, True, outcome, detail, *counts, len(curr)),
                rows)

    def _release_info(self, provider: str, spec: BucketSpec, new_keys: list[SlotKey], st: BucketState,
                      poll_at: datetime, calibrating: bool) -> tuple[Any, list[tuple[int, int]]]:
        """First sightings of venue-dates (cached per date, loaded once); returns (is_release, rows to insert).
        new_keys: the poll's slots not open before."""
        if not new_keys:
            return (lambda k: False), []
        ck = (provider, spec.bucket_date)
        with self._lock:
            seen = self._first_seen.get(ck)
        if seen is None:
            with self.store.cursor() as cur:
                seen = {int(r[0]): (r[1], int(r[2])) for r in cur.execute(
                    "SELECT venue_id, first_seen_at, first_slots FROM venue_dates_seen WHERE provider = $p AND slot_date = $d",
                    {"p": provider, "d": spec.bucket_date}).fetchall()}
            with self._lock:
                seen = self._first_seen.setdefault(ck, seen)
        per_venue = Counter(k.venue_id for k in new_keys if k.slot_date == spec.bucket_date)
        with self._lock:
            rows = [(vid, 0 if calibrating else n) for vid, n in per_venue.items() if vid not in seen]
            for vid, n in rows:
                seen[vid] = (poll_at, n)
            snapshot = dict(seen)

        def is_release(k: SlotKey) -> bool:
            first = snapshot.get(k.venue_id)
            return first is not None and first[1] >= RELEASE_MIN_SLOTS and poll_at - first[0] <= RELEASE_GRACE
        return is_release, rows

    # -- rows for the store (plain values; the store owns the SQL) ---------------------------------
    @staticmethod
    def _bucket_row(spec: BucketSpec, st: BucketState, finished: datetime) -> dict[str, Any]:
        return {"bucket_id": spec.bucket_id, "party_size": spec.party_size, "last_poll_at": finished,
                "last_trusted_at": st.last_trusted_at, "calibration_done": st.calibration_done,
                "calibration_tries": st.calibration_tries, "baseline_ready": st.baseline_ready,
                "baseline_slots": len(st.baseline), "collapse_since": st.collapse_since,
                "collapse_answers": st.collapse_answers, "closes_seen": st.closes_seen, "open_slot_s": st.open_slot_s}

    def _diff_rows(self, spec: BucketSpec, w: PollWrite, d: DiffResult, poll_at: datetime, finished: datetime,
                   calibrating: bool, venue_dates: list[tuple[int, int]], venues: list[VenueInfo],
                   started: datetime) -> PollWrite:
        """A trusted poll's transitions, ended and opened intervals, baseline, first sightings and venues."""
        local_of: dict[tuple[datetime, str], datetime] = {}

        def local(ts: datetime, venue_id: int) -> datetime:   # a poll has a handful of (instant, zone)
            k = (ts, self._tz(venue_id))
            v = local_of.get(k)
            if v is None:
                v = local_of[k] = to_local(*k)
            return v
        provider = w.ledger["provider"]
        w.events = [{"event_id": f"{t.interval_id}|{t.kind}", "event_type": t.kind, **_slot(t.key),
                     "bucket_id": spec.bucket_id, "bucket_date": spec.bucket_date, "time_bucket": spec.time_bucket,
                     "interval_id": t.interval_id, "observed_at": t.observed_at,
                     "observed_local": local(t.observed_at, t.key.venue_id), "prev_poll_at": t.prev_poll_at,
                     "duration_s": t.duration_s, "is_release": t.is_release, "poll_id": w.poll_id}
                    for t in d.transitions]
        # ended_at: when the end was recorded, this poll's end (after a gap, later than closed_lo / closed_hi)
        w.ended = [{"interval_id": e.state.interval_id, **_slot(e.key), "bucket_id": spec.bucket_id,
                    "time_bucket": spec.time_bucket, "source": e.state.source, "is_release": e.state.is_release,
                    "opened_lo": e.state.opened_lo, "opened_hi": e.state.opened_hi, "closed_lo": e.closed_lo,
                    "closed_hi": e.closed_hi, "end_reason": e.end_reason, "duration_s": e.duration_s,
                    "opened_local": local(e.state.opened_hi, e.key.venue_id), "ended_at": finished}
                   for e in d.ended]
        w.opened = [{**_slot(k), "bucket_id": spec.bucket_id, "interval_id": o.interval_id, "source": o.source,
                     "opened_lo": o.opened_lo, "opened_hi": o.opened_hi, "is_release": o.is_release}
                    for k, o in d.opened.items()]
        if calibrating:
            w.baseline = [{"bucket_id": spec.bucket_id, "party_size": k.party_size, "provider": k.provider,
                           "venue_id": k.venue_id, "slot_date": k.slot_date, "slot_time": k.slot_time,
                           "table_type": k.table_type} for k in d.opened]
        w.venue_dates = [{"provider": provider, "venue_id": vid, "slot_date": spec.bucket_date,
                          "first_seen_at": poll_at, "first_slots": n} for vid, n in venue_dates]
        w.venues = [{"provider": v.provider, "venue_id": v.venue_id, "name": v.name, "neighborhood": v.neighborhood,
                     "price_range": v.price_range, "cuisine": v.cuisine, "tz": v.tz, "lat": v.lat, "lon": v.lon,
                     "seen_at": started} for v in venues]
        return w
