"""Release vs cancellation drops against the simulator's ground truth.

The simulator releases a date's slots at each venue's release time, booking_window_days ahead
(7-30 days, venue by venue), and knows which open interval is a release; everything else that
opens is a cancellation. The collector cannot see booking windows: it calls a NEW_DROP a release
when it is part of the first sighting of a venue-date with at least RELEASE_MIN_SLOTS slots new at
once, within RELEASE_GRACE (collector/poller.py). Here the collector watches a 15-day window, so
the release edge of every venue with a booking window under 15 days lies inside it.

Every NEW_DROP interval the collector stored is matched to the one true interval of the same slot
(venue, date, time, party size, table type) whose true opening lies inside the interval's recorded
opening bounds (opened_lo, opened_hi]; the test then scores the release flag against the truth,
and checks that venue_daily's release / cancellation split counts exactly those flags.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from simulator.model import TABLE_TYPES, Market
from tests.pipeline import Collected, build_collected_db

REL = dict(venues=12, days=3, poll_interval_s=600, seed=11, window_days=15, time_slots=("19:00",),
           party_sizes=(2,))


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Collected:
    with pytest.MonkeyPatch.context() as mp:      # keep the truth of past dates (see analytics/conftest)
        mp.setattr(Market, "forget_before", lambda self, day: 0)
        return build_collected_db(tmp_path_factory.mktemp("release"), **REL)  # type: ignore[arg-type]


def _drops(c: Collected) -> list[tuple]:
    con = duckdb.connect(str(c.db_path), read_only=True)
    try:
        cols = "venue_id, slot_date, slot_time, party_size, table_type, is_release, epoch(opened_lo), epoch(opened_hi)"
        rows = con.execute(f"SELECT {cols} FROM slot_intervals WHERE source = 'drop' "  # noqa: S608 - fixed text
                           f"UNION ALL SELECT {cols} FROM open_slots WHERE source = 'drop'").fetchall()
    finally:
        con.close()
    tz = ZoneInfo(c.settings.timezone)        # a drop's metric day: the market-local day of opened_hi
    return [(*r, datetime.fromtimestamp(r[7], tz).date()) for r in rows]


def _truth_release(c: Collected) -> dict[tuple, list[tuple[float, bool]]]:
    f = c.market.truth_frame()
    out: dict[tuple, list[tuple[float, bool]]] = {}
    for i in range(len(f["venue_id"])):
        k = (int(f["venue_id"][i]), int(f["slot_date"][i]), int(f["minute"][i]), int(f["party_size"][i]),
             TABLE_TYPES[int(f["table_type"][i])])
        out.setdefault(k, []).append((float(f["opened"][i]), bool(f["is_release"][i])))
    return out


def test_release_flags_match_the_truth(released: Collected) -> None:
    truth = _truth_release(released)
    score: Counter[tuple[bool, bool]] = Counter()
    unmatched = 0
    drops = _drops(released)
    for vid, sd, st, ps, tt, ours, olo, ohi, _day in drops:
        m = [rel for opened, rel in truth.get((vid, sd.toordinal(), st.hour * 60 + st.minute, ps, tt), [])
             if olo < opened <= ohi + 1e-6]
        if len(m) != 1:
            unmatched += 1
            continue
        score[(m[0], bool(ours))] += 1
    true_rel = score[(True, True)] + score[(True, False)]
    flagged = score[(True, True)] + score[(False, True)]
    assert true_rel >= 100, score                   # releases inside the watched window were seen
    assert score[(False, False)] >= 1000, score     # and plenty of cancellations
    assert unmatched <= 0.01 * len(drops), (unmatched, len(drops))
    assert score[(True, True)] / true_rel >= 0.95, score       # recall of releases
    assert score[(True, True)] / flagged >= 0.95, score        # precision


def test_venue_daily_splits_drops_by_those_flags(released: Collected) -> None:
    con = duckdb.connect(str(released.db_path), read_only=True)
    try:
        days = {r[0] for r in con.execute("SELECT metric_date FROM day_quality").fetchall()}
        got = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in con.execute(
            "SELECT venue_id, metric_date, sum(release_drops), sum(cancel_drops) FROM venue_daily GROUP BY ALL "
            "HAVING sum(drops) > 0").fetchall()}
    finally:
        con.close()
    want: Counter[tuple[int, object, bool]] = Counter()
    for vid, _sd, _st, _ps, _tt, ours, _olo, _ohi, day in _drops(released):
        if day in days:
            want[(vid, day, bool(ours))] += 1
    expect = {(v, d): (want[(v, d, True)], want[(v, d, False)]) for v, d, _r in want}
    assert len(days) == REL["days"] and sum(r for r, _c in expect.values()) >= 50
    assert got == expect
    assert max(days) - min(days) == timedelta(days=REL["days"] - 1)
