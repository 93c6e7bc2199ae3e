"""Property tests of the pure diff: trust, provenance of every CLOSED, bounds, idempotency, expiry."""

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.diff import OpenState, diff
from collector.providers.base import SlotKey

T0 = datetime(2026, 11, 20, 12, 0)
KEYS = [SlotKey("resy", v, date(2026, 11, 25), time(18 + h // 2, 30 * (h % 2)), p, tt)
        for v in (1, 2, 3) for h in range(3) for p in (2, 4) for tt in ("Dining Room", "Bar")]

polls = st.lists(st.tuples(st.frozensets(st.sampled_from(KEYS), max_size=12), st.booleans(),
                           st.integers(min_value=5, max_value=600)), min_size=1, max_size=25)


def run(sequence, n_calibration=2, expired_keys=frozenset(), max_gap_s=None):
    """Apply a sequence of (slots, trusted, gap_s) polls; returns all transitions and final state."""
    prev: dict[SlotKey, OpenState] = {}
    baseline: set[SlotKey] = set()
    t, last_trusted, cal = T0, None, 0
    out = []
    for slots, trusted, gap in sequence:
        t += timedelta(seconds=gap)
        d = diff(prev, slots, baseline, trusted=trusted, poll_at=t, prev_poll_at=last_trusted,
                 calibrating=cal < n_calibration, expired=lambda k: k in expired_keys, max_gap_s=max_gap_s)
        out.append((t, trusted, slots, d))
        if not trusted:
            continue
        prev = {k: v for k, v in prev.items() if k in slots} | d.opened
        if cal < n_calibration:
            baseline |= set(d.opened)
            cal += 1
        last_trusted = t
    return out, prev, baseline, last_trusted


@given(polls)
def test_untrusted_polls_move_nothing(seq):
    for _t, trusted, _slots, d in run(seq)[0]:
        if not trusted:
            assert not d.transitions and not d.opened and not d.ended


@given(polls)
def test_every_closed_had_a_drop_or_baseline_entry(seq):
    opened_ids = set()
    for _t, _tr, _s, d in run(seq)[0]:
        for tr in d.transitions:
            if tr.kind in ("CLOSED", "EXPIRED"):
                assert tr.interval_id in opened_ids
            else:
                opened_ids.add(tr.interval_id)


@given(polls)
def test_durations_lie_within_their_bounds(seq):
    for _t, _tr, _s, d in run(seq)[0]:
        for e in d.ended:
            assert e.closed_hi is not None and e.closed_lo < e.closed_hi
            assert e.state.opened_hi <= e.closed_lo
            lo = (e.closed_lo - e.state.opened_hi).total_seconds()
            assert lo <= e.duration_s
            if e.state.opened_lo is not None:
                assert e.duration_s <= (e.closed_hi - e.state.opened_lo).total_seconds()


@given(polls)
def test_reapplying_the_last_trusted_poll_is_a_no_op(seq):
    out, prev, baseline, last = run(seq)
    trusted = [(t, s) for t, tr, s, _d in out if tr]
    if not trusted:
        return
    t, slots = trusted[-1]
    again = diff(prev, slots, baseline, trusted=True, poll_at=t + timedelta(seconds=30), prev_poll_at=last,
                 calibrating=False)
    assert again.transitions == []


@given(polls)
def test_new_drop_only_outside_baseline_and_after_calibration(seq):
    out, _prev, baseline, _ = run(seq)
    trusted_seen = 0
    for _t, tr, _s, d in out:
        if not tr:
            continue
        trusted_seen += 1
        for x in d.transitions:
            if x.kind == "NEW_DROP":
                assert trusted_seen > 2 and x.key not in baseline


@given(polls, st.frozensets(st.sampled_from(KEYS)))
def test_a_slot_past_its_cutoff_is_never_closed(seq, gone):
    for _t, _tr, _s, d in run(seq, expired_keys=gone)[0]:
        for x in d.transitions:
            if x.kind == "CLOSED":
                assert x.key not in gone
            if x.kind == "EXPIRED":
                assert x.key in gone and x.duration_s is None


def test_worked_example():
    a, b, c = KEYS[0], KEYS[1], KEYS[2]
    out, *_ = run([({a}, True, 0), (frozenset(), True, 30), ({b}, True, 30), ({b, c}, True, 30),
                   ({c}, True, 45)], n_calibration=1)
    kinds = [[(x.kind, x.key) for x in d.transitions] for *_x, d in out]
    assert kinds[0] == [("BASELINE_AVAILABLE", a)]
    assert kinds[1] == [("CLOSED", a)]
    assert kinds[2] == [("NEW_DROP", b)]
    assert kinds[3] == [("NEW_DROP", c)]
    assert kinds[4] == [("CLOSED", b)]
    closed_b = out[4][3].ended[0]
    # b first seen at T0+60, last seen T0+90, first absent T0+135: point = 75 s, bounds [30, 105]
    assert closed_b.duration_s == 75.0
    assert closed_b.closed_lo == T0 + timedelta(seconds=90)
    assert closed_b.state.opened_lo == T0 + timedelta(seconds=30)


@settings(max_examples=50)
@given(polls)
def test_untrusted_polls_do_not_change_the_outcome(seq):
    """Removing the untrusted polls (keeping the clock) yields exactly the same transitions."""
    with_bad = [x for *_a, d in run(seq)[0] for x in d.transitions]
    good, carry = [], 0
    for slots, trusted, gap in seq:
        if trusted:
            good.append((slots, True, gap + carry))
            carry = 0
        else:
            carry += gap
    only_good = [x for *_a, d in run(good)[0] for x in d.transitions] if good else []
    assert with_bad == only_good


@given(polls)
def test_no_interval_spans_an_unobserved_gap(seq):
    """With max_gap_s, a slot seen on both sides of a long gap is two intervals, the first censored."""
    out, *_ = run(seq, max_gap_s=300)
    trusted_times = [t for t, tr, _s, _d in out if tr]
    gaps = [(a, b) for a, b in zip(trusted_times, trusted_times[1:], strict=False) if (b - a).total_seconds() > 300]
    for _t, _tr, _s, d in out:
        for e in d.ended:
            if e.end_reason == "censored":
                assert e.closed_hi is None and e.duration_s is None
            for a, b in gaps:   # an interval's sightings never straddle a long gap
                assert not (e.state.opened_hi <= a and b <= e.closed_lo)


@given(polls)
def test_no_new_drop_across_an_unobserved_gap(seq):
    out, *_ = run(seq, max_gap_s=300)
    for _t, _tr, _s, d in out:
        for x in d.transitions:
            if x.kind == "NEW_DROP":
                assert (x.observed_at - x.prev_poll_at).total_seconds() <= 300


def test_gap_censors_and_resumes():
    a = KEYS[0]
    b = KEYS[1]
    out, prev, *_ = run([(frozenset(), True, 0), ({a}, True, 30), ({a}, True, 30), ({a, b}, True, 7200)],
                        n_calibration=1, max_gap_s=3600)
    last = out[-1][3]
    assert [e.end_reason for e in last.ended] == ["censored"]
    assert last.ended[0].closed_lo == T0 + timedelta(seconds=60)
    assert prev[a].source == "resumed" and prev[a].opened_lo is None
    assert prev[b].source == "resumed" and prev[b].opened_lo is None   # first seen after the gap: not a drop
    assert last.transitions == []   # censoring is not a transition


@given(polls, st.sampled_from([None, 120]))
def test_handing_in_new_and_gone_gives_the_same_diff(seq, max_gap_s):
    """The poller hands the diff the new and gone keys it already computed: same result, same order."""
    out, prev, baseline, last = run(seq[:-1], max_gap_s=max_gap_s)
    slots, trusted, gap = seq[-1]
    t = (out[-1][0] if out else T0) + timedelta(seconds=gap)
    curr = {k: None for k in sorted(slots)}
    kw = dict(trusted=trusted, poll_at=t, prev_poll_at=last, calibrating=False, max_gap_s=max_gap_s)
    a = diff(prev, curr, baseline, **kw)
    b = diff(prev, curr, baseline, new=[k for k in curr if k not in prev], gone=[k for k in prev if k not in curr], **kw)
    assert a == b
