"""The poller against a real DuckDB file: trust, collapse hold, idempotent re-apply, restart resume.

Poll results are scripted at the Provider interface (the seam the HTTP client implements); the
HTTP path itself is covered by the provider tests and the end-to-end simulator test.
"""

from datetime import date, datetime, time, timedelta

import pytest

from collector.buckets import BucketSpec, ensure_buckets
from collector.clock import ManualClock
from collector.poller import Poller
from collector.providers.base import Outcome, PollResult, SlotKey, VenueInfo
from collector.store.writer import Store
from tablepulse_settings import Settings

DAY = date(2026, 11, 25)
T0 = datetime(2026, 11, 20, 17, 0)
SPEC = BucketSpec(f"{DAY}_19:00", 2, DAY, "19:00", "prime")


def key(v, hhmm="19:00", tt="Dining Room"):
    h, m = map(int, hhmm.split(":"))
    return SlotKey("resy", v, DAY, time(h, m), 2, tt)


def result(keys, outcome=Outcome.OK):
    venues = {k.venue_id: VenueInfo("resy", k.venue_id, f"V{k.venue_id}", "SoHo", 2, "Italian", "America/New_York", None, None)
              for k in keys}
    return PollResult(outcome, venues if outcome is Outcome.OK else {},
                      dict.fromkeys(keys) if outcome is Outcome.OK else {})


class Scripted:
    name = "resy"

    def __init__(self):
        self.queue = []

    def search(self, day, time_slot, party_size, now=None):
        return self.queue.pop(0)

    def find(self, day, party_size, venue_id):
        raise NotImplementedError

    def health(self):
        return {}

    def close(self):
        pass


@pytest.fixture
def rig(tmp_path):
    settings = Settings().replace(calibration_polls=1, collapse_share=0.8)
    store = Store(tmp_path / "t.duckdb").start()
    clock = ManualClock(T0)
    store.write(lambda c: ensure_buckets(c, DAY, T0, settings.replace(window_days=1)))
    store.write(lambda c: c.execute("INSERT INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, created_at) "
                                    "VALUES ($b, 2, $d, '19:00', 'prime', $t) ON CONFLICT DO NOTHING",
                                    {"b": SPEC.bucket_id, "d": DAY, "t": T0}))
    prov = Scripted()
    poller = Poller(store, prov, settings, clock)

    def step(keys, outcome=Outcome.OK, gap=30):
        clock.advance(gap)
        prov.queue.append(result(keys, outcome))
        return poller.poll(SPEC)
    yield store, poller, step, tmp_path
    store.close()


def q(store, sql, **p):
    with store.cursor() as c:
        return c.execute(sql, p).fetchall()


def test_trusted_polls_make_transitions_and_untrusted_ones_only_a_ledger_row(rig):
    store, _poller, step, _ = rig
    step([key(1)])                                  # calibration -> baseline
    s = step([key(1), key(2)])
    assert (s.trusted, s.n_new_drop) == (True, 1)
    bad = step([], Outcome.SERVER_ERROR)            # must not read as "everything closed"
    assert not bad.trusted and bad.n_closed == 0
    s = step([key(1)])
    assert s.n_closed == 1
    kinds = q(store, "SELECT event_type, count(*) FROM availability_events GROUP BY 1 ORDER BY 1")
    assert kinds == [("BASELINE_AVAILABLE", 1), ("CLOSED", 1), ("NEW_DROP", 1)]
    ledger = q(store, "SELECT trusted, outcome FROM poll_ledger ORDER BY started_at")
    assert ledger == [(True, "ok"), (True, "ok"), (False, "server_error"), (True, "ok")]
    (lo, hi, clo, chi, dur), = q(store, "SELECT opened_lo, opened_hi, closed_lo, closed_hi, duration_s FROM slot_intervals")
    # opened between poll 1 (T0+30) and poll 2 (T0+60); closed between poll 2 and poll 4 (T0+120):
    # the untrusted poll at T0+90 is not evidence either way.
    assert (lo, hi, clo, chi) == (T0 + timedelta(seconds=30), T0 + timedelta(seconds=60),
                                  T0 + timedelta(seconds=60), T0 + timedelta(seconds=120))
    assert dur == 60.0


def test_suspicious_collapse_is_held_until_confirmed(rig):
    store, _poller, step, _ = rig
    many = [key(v) for v in range(1, 7)]
    step(many)
    s = step([key(1)])
    assert (s.trusted, s.outcome) == (False, "suspicious_collapse")
    assert q(store, "SELECT count(*) FROM open_slots")[0][0] == 6
    s = step(many)                                    # not confirmed: it was a blip
    assert s.trusted and s.n_closed == 0 and s.n_new_drop == 0
    s = step([key(1)])
    assert not s.trusted                              # a new streak of agreeing answers starts
    for _ in range(4):
        s = step([key(1)], gap=60)
        assert not s.trusted                          # they span 60 ... 240 s of collapse_confirm_s
    s = step([key(1)], gap=60)                        # answers spanning 300 s agree: believed
    assert s.trusted and s.n_closed == 5
    assert "confirmed" in s.detail


def test_silence_between_agreeing_answers_does_not_confirm_a_collapse(rig):
    """Agreeing answers around an outage: the failed polls vouch for nothing, so the streak starts
    again after them (three answers 330 s from the first would otherwise have confirmed it)."""
    store, _poller, step, _ = rig
    many = [key(v) for v in range(1, 7)]
    step(many)
    assert not step([key(1)]).trusted
    for _ in range(9):
        assert not step([], Outcome.SERVER_ERROR).trusted
    for n in (1, 2):                                  # 300 and 330 s after the first
        s = step([key(1)])
        assert (s.trusted, s.outcome) == (False, "suspicious_collapse")
        assert f"held: {n} agreeing answers span {30 * (n - 1)} of 300 s" in s.detail
    assert q(store, "SELECT count(*) FROM open_slots")[0][0] == 6


def test_expiry_is_not_a_close(rig):
    store, _poller, step, _ = rig
    step([])
    step([key(1, "18:00"), key(2, "20:00")])
    # jump to 17:45 local on the day (22:45 UTC): the 18:00 slot is within its cut-off guard
    gap = (datetime(2026, 11, 25, 22, 45) - (T0 + timedelta(seconds=60))).total_seconds()
    s = step([key(2, "20:00")], gap=gap)
    assert (s.n_closed, s.n_expired) == (0, 1)
    assert q(store, "SELECT end_reason FROM slot_intervals WHERE slot_time = TIME '18:00'") == [("expired",)]
    # the 20:00 slot was seen on both sides of a 5-day gap: censored, then resumed (opening unknown)
    assert q(store, "SELECT end_reason, closed_hi FROM slot_intervals WHERE slot_time = TIME '20:00'") == [("censored", None)]
    assert q(store, "SELECT source, opened_lo FROM open_slots") == [("resumed", None)]


def test_reapplying_a_poll_writes_nothing_twice(rig):
    store, poller, step, _ = rig
    step([key(1)])
    step([key(1), key(2)])
    before = q(store, "SELECT (SELECT count(*) FROM availability_events), (SELECT count(*) FROM poll_ledger)")
    started = q(store, "SELECT max(started_at) FROM poll_ledger")[0][0]
    again = poller.apply(SPEC, result([key(1), key(2)]), started, started)
    assert again.duplicate
    poller.reset_cache()   # also from a cold cache (as after a restart)
    again = poller.apply(SPEC, result([key(1), key(2)]), started, started)
    assert again.duplicate
    assert q(store, "SELECT (SELECT count(*) FROM availability_events), (SELECT count(*) FROM poll_ledger)") == before


def test_restart_resumes_from_the_file(tmp_path, rig):
    store, poller, step, path = rig
    step([key(1)])
    step([key(1), key(2)])
    store.close()
    store2 = Store(path / "t.duckdb").start()
    clock = ManualClock(T0 + timedelta(seconds=90))
    prov = Scripted()
    p2 = Poller(store2, prov, poller.settings, clock)
    prov.queue.append(result([key(1)]))
    s = p2.poll(SPEC)
    assert (s.n_closed, s.n_new_drop) == (1, 0)
    (dur,), = q(store2, "SELECT duration_s FROM slot_intervals")
    assert dur == 30.0
    store2.close()


def test_release_wave_is_flagged(rig):
    store, _poller, step, _ = rig
    step([])
    step([])                                   # calibration: two empty polls baseline an empty bucket
    step([key(5, "18:30"), key(5, "19:00"), key(5, "19:30"), key(6, "19:00")])
    step([key(6, "19:00")])
    step([key(6, "19:00"), key(5, "19:00")], gap=1200)   # 20 min later: a cancellation, not the release
    rows = q(store, "SELECT venue_id, slot_time, is_release FROM availability_events WHERE event_type='NEW_DROP' "
                    "ORDER BY observed_at, venue_id, slot_time")
    assert rows[:4] == [(5, time(18, 30), True), (5, time(19, 0), True), (5, time(19, 30), True), (6, time(19, 0), False)]
    assert rows[4] == (5, time(19, 0), False)


def _at(local_hhmm, tz_offset_h=5):
    """An instant on DAY given as New York wall time (UTC-5 in November)."""
    h, m = map(int, local_hhmm.split(":"))
    return datetime.combine(DAY, time(h, m)) + timedelta(hours=tz_offset_h)


def test_expired_slots_never_count_toward_a_collapse_after_quiet_polls(rig):
    """Most polls skip the per-slot expiry check (a cached floor of the slots' cut-offs); once the
    earliest cut-off passes, expiring slots must still be told apart from a collapse."""
    store, poller, step, _ = rig
    early = [key(v, "18:00") for v in range(1, 8)]
    step(early + [key(8, "20:00")])                     # calibration
    s = step(early[:-1] + [key(8, "20:00")])           # one closes: the check runs, the floor is cached
    assert s.trusted and s.n_closed == 1
    gap = (_at("17:45") - (T0 + timedelta(seconds=60))).total_seconds()
    s = step([key(8, "20:00")], gap=gap)               # the six 18:00 slots are past their cut-off guard
    assert s.trusted and (s.n_expired, s.n_closed) == (6, 0)


def test_a_venue_changing_zone_refreshes_the_expiry_floor(rig):
    store, poller, step, _ = rig
    clock = poller.clock

    def poll(keys, tz, at):
        clock.set(at)
        venues = {k.venue_id: VenueInfo("resy", k.venue_id, f"V{k.venue_id}", None, None, None, tz, None, None)
                  for k in keys}
        poller.provider.queue.append(PollResult(Outcome.OK, venues, dict.fromkeys(keys)))
        return poller.poll(SPEC)
    early = [key(v, "18:00") for v in range(1, 8)]
    poll(early + [key(8, "20:00")], "America/Los_Angeles", _at("10:00"))
    # 18:00 in Los Angeles is 02:00 UTC the next day: the floor cached here is far away
    assert poll(early[:-1] + [key(8, "20:00")], "America/Los_Angeles", _at("10:01")).trusted
    # the venues now say New York (their 18:00 is 23:00 UTC); a close makes the check run again
    assert poll(early[:-2] + [key(8, "20:00")], "America/New_York", _at("10:02")).trusted
    s = poll([key(8, "20:00")], "America/New_York", _at("17:45"))
    assert s.trusted and (s.n_expired, s.n_closed) == (5, 0), s


@pytest.mark.parametrize("started", [True, False], ids=["writer thread", "inline store"])
def test_a_key_already_stored_keeps_its_row_and_the_poll_lands(tmp_path, started):
    """Every keyed insert is idempotent in its statement (ON CONFLICT DO NOTHING): a key stored behind
    the cache's back keeps its row, the poll lands once, nothing is lost."""
    settings = Settings().replace(calibration_polls=1)
    store = Store(tmp_path / "t.duckdb")
    if started:
        store.start()
    store.write(lambda c: ensure_buckets(c, DAY, T0, settings.replace(window_days=1)))
    store.write(lambda c: c.execute("INSERT INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, "
                                    "created_at) VALUES ($b, 2, $d, '19:00', 'prime', $t) ON CONFLICT DO NOTHING",
                                    {"b": SPEC.bucket_id, "d": DAY, "t": T0}))
    prov = Scripted()
    poller = Poller(store, prov, settings, ManualClock(T0))
    prov.queue.append(result([key(1)]))
    poller.poll(SPEC)
    # someone else recorded key(2) as open (a stale cache would look the same)
    store.write(lambda c: c.execute(
        "INSERT INTO open_slots VALUES ('resy', 2, $d, TIME '19:00', 2, 'Dining Room', $b, 'elsewhere', 'drop', "
        "NULL, $t, FALSE)", {"d": DAY, "b": SPEC.bucket_id, "t": T0}))
    poller.clock.advance(30)
    prov.queue.append(result([key(1), key(2)]))
    s = poller.poll(SPEC)
    assert s.trusted and s.n_new_drop == 1 and not s.duplicate
    assert q(store, "SELECT count(*) FROM poll_ledger") == [(2,)]
    assert q(store, "SELECT event_type FROM availability_events WHERE venue_id = 2") == [("NEW_DROP",)]
    assert q(store, "SELECT interval_id FROM open_slots WHERE venue_id = 2") == [("elsewhere",)]
    store.close()


def test_a_venue_new_to_the_process_but_in_the_file_is_updated(rig):
    """Venues this process never wrote go in with a plain INSERT; after a restart they are in the
    file already, so the batch is rerun with the upsert: the new details win, first_seen_at stays."""
    store, poller, step, _ = rig
    step([key(1)])
    (first,), = q(store, "SELECT first_seen_at FROM venues WHERE venue_id = 1")
    p2 = Poller(store, poller.provider, poller.settings, poller.clock)   # a restart: empty caches
    poller.clock.advance(30)
    renamed = result([key(1)])
    renamed.venues[1] = VenueInfo("resy", 1, "Renamed", "SoHo", 2, "Italian", "America/New_York", None, None)
    s = p2.apply(SPEC, renamed, poller.clock.now(), poller.clock.now())
    assert s.trusted
    assert q(store, "SELECT name, first_seen_at, last_seen_at FROM venues WHERE venue_id = 1") == [
        ("Renamed", first, poller.clock.now())]


def test_a_ledger_row_is_the_same_written_alone_or_in_a_batch(tmp_path):
    """A lone poll's ledger row goes in as one row of parameters, a batch's as an Arrow table: the
    same polls give the same rows either way (types, NULLs, floats)."""
    spec4 = BucketSpec(SPEC.bucket_id, 4, DAY, "19:00", "prime")
    polls = [(SPEC, result([key(1), key(2)]), T0, T0 + timedelta(seconds=2)),
             (spec4, PollResult(Outcome.SERVER_ERROR, http_status=503, detail="HTTP 503", latency_ms=12.5), T0, T0)]
    rows = []
    for name, batched in (("alone", False), ("batch", True)):
        settings = Settings().replace(calibration_polls=1)
        store = Store(tmp_path / f"{name}.duckdb").start()
        for p in (2, 4):
            store.write(lambda c, p=p: c.execute(
                "INSERT INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, created_at) "
                "VALUES ($b, $p, $d, '19:00', 'prime', $t)", {"b": SPEC.bucket_id, "p": p, "d": DAY, "t": T0}))
        poller = Poller(store, Scripted(), settings, ManualClock(T0))
        if batched:
            poller.apply_many(polls)
        else:
            for poll in polls:
                poller.apply(*poll)
        rows.append(q(store, "SELECT * FROM poll_ledger ORDER BY party_size"))
        store.close()
    assert rows[0] == rows[1] and len(rows[0]) == 2


def test_a_buckets_own_history_says_what_sudden_means(rig):
    """Rule L (docs/trust-rules.md): losing 17 of 20 slots at once is held in a bucket with no history,
    and believed in one whose answers have lost 8 of 20 every 30 s (its close rate makes 17 plausible)."""
    store, _poller, step, _ = rig
    ids = iter(range(1, 10_000))
    now = [key(next(ids)) for _ in range(20)]
    step(now)                                          # calibration
    s = step(now[:3])
    assert (s.trusted, s.outcome) == (False, "suspicious_collapse") and "history allows" in s.detail
    for _ in range(10):                                # 8 of 20 close and 8 open every poll: believed
        now = now[8:] + [key(next(ids)) for _ in range(8)]
        s = step(now)
        assert s.trusted and (s.n_closed, s.n_new_drop) == (8, 8)
    s = step(now[:3])
    assert s.trusted and s.n_closed == 17


def test_bounds_come_from_page_arrival_and_poll_end(rig):
    """Rule B: a slot's opened_hi is the arrival of the page that showed it, its closed_hi the end of
    the first poll without it; lows are the starts of the polls before. Each poll here takes 10 s."""
    store, poller, _step, _ = rig
    clock = poller.clock
    prov = poller.provider

    def poll(keys, pages):
        clock.advance(30)
        t = clock.now()
        r = result(keys)
        r.page_times = [(t + timedelta(seconds=a), t + timedelta(seconds=b)) for a, b in pages]
        r.page_ends = list(range(1, len(keys) + 1)) if keys else [0]
        prov.queue.append(r)
        orig = prov.search

        def slow_search(*a, **kw):
            clock.advance(10)                          # the poll's pages take 10 s
            return orig(*a, **kw)
        prov.search = slow_search
        try:
            return t, poller.poll(SPEC)
        finally:
            prov.search = orig
    poll([key(1)], [(1, 2)])                                            # calibration
    t1, _ = poll([key(1)], [(1, 2)])
    t2, s = poll([key(1), key(2), key(3)], [(1, 2), (3, 4), (6, 9)])    # 2 on page 2, 3 on page 3
    assert s.n_new_drop == 2
    rows = q(store, "SELECT venue_id, opened_lo, opened_hi FROM open_slots WHERE source = 'drop' ORDER BY venue_id")
    assert rows == [(2, t1, t2 + timedelta(seconds=4)), (3, t1, t2 + timedelta(seconds=9))]
    t3, s = poll([key(1), key(3)], [(1, 2), (3, 4)])
    assert s.n_closed == 1
    (clo, chi, dur), = q(store, "SELECT closed_lo, closed_hi, duration_s FROM slot_intervals")
    assert (clo, chi) == (t2, t3 + timedelta(seconds=10))          # the poll's start and end
    assert dur == (chi - (t2 + timedelta(seconds=4))).total_seconds()   # closed_hi - opened_hi


def test_an_empty_answer_is_believed_alone_only_when_the_history_makes_it_likely(rig):
    """Rule E: every open slot gone is held 30 s after the last trusted answer of a bucket whose slots
    close at ~0.023/s each (all ten closing in 30 s: ~0.1%), and believed alone 50 min after it."""
    store, _poller, step, _ = rig
    ids = iter(range(1, 10_000))
    now = [key(next(ids)) for _ in range(10)]
    step(now)
    for _ in range(5):
        now = now[7:] + [key(next(ids)) for _ in range(7)]
        assert step(now).trusted
    s = step([])
    assert (s.trusted, s.outcome) == (False, "suspicious_collapse") and "all 10 open slots gone" in s.detail
    s = step([], gap=3000)
    assert s.trusted and s.n_closed == 10
