"""The seeded market model: venues, lazily simulated slot trajectories, the virtual clock, ground truth.

Owns what the simulator knows and imports no other simulator module. simulator/api.py renders a Market in
the provider's shape (ProviderApi), simulator/server.py serves both over HTTP; tests and bench/sim_search.py
drive them in-process (advance_to, materialize, truth_*).

How a slot lives (all times virtual UTC, held as float epoch seconds inside):
- Slot key = (venue_id, slot_date, slot_time, party_size class, table_type). A query for party size p is
  served from the inventory class 2 (p <= 2), 4 (p <= 4) or 6 (p <= 6); larger parties have no tables.
- A date's slots are released (all open, ``is_release``) at the venue's own release time of day
  (venue-local), ``booking_window_days`` before the date.
- The market has a daily rhythm: people book and cancel at ``ACTIVITY_PROFILE[venue-local hour]`` times
  the base rate (mean 1 over a day: quiet overnight, busy late morning and early evening). Holding times
  are drawn in *activity time* A(t) (the integral of the profile, ``ActivityClock``) and mapped back
  through A^-1, so the hazard at t is rate x profile(hour of t) while each path stays exact and cheap.
- While open a slot is booked at rate ``1/mean_open(prime or off-peak) * WEEKDAY_FACTOR[slot weekday] *
  BOOKING_LEAD_FACTORS[lead band]``; while booked it is cancelled (a drop) at ``1/mean_booked *
  CANCEL_LEAD_FACTORS[lead band]``: cancellations rise in the two days before the date (people cancel
  before the fee window). ``lead`` = slot start - t. When a path crosses a lead-band edge, the holding
  time is drawn again from the edge (a "redraw" event: exact, as holding times are memoryless).
- At ``slot start - cutoff_minutes`` (0..60 min, inside the collector's 60-minute expiry guard) the slot
  leaves: an open one closes with reason ``expired`` (never ``booked``).
- Each slot draws its k-th holding time from a counter-based hash of (seed, slot key, k), so its whole
  path depends on nothing else: the truth is the same whatever was queried, in any order, at any cadence.
- Slots are simulated lazily: per (date, party class) table, only the rows a query touches are advanced
  (vectorized with numpy) up to the instant asked. The truth is complete up to now() for every slot any
  query ever touched (truth calls advance those to now first); untouched slots are absent from it.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

TZ_NAME = "America/New_York"
TZ = ZoneInfo(TZ_NAME)
EPOCH = datetime(1970, 1, 1)

TIERS = ("impossible", "hard", "medium", "moderate", "easy")
TIER_SHARE = (0.05, 0.15, 0.30, 0.30, 0.20)
# Per tier, ranges the venue's true parameters are drawn from (log-uniform), in seconds.
TIER_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "impossible": {"mean_open_prime_s": (30, 75), "mean_open_offpeak_s": (60, 120),
                   "mean_booked_s": (48 * 3600, 96 * 3600)},
    "hard": {"mean_open_prime_s": (120, 480), "mean_open_offpeak_s": (300, 1200),
             "mean_booked_s": (24 * 3600, 48 * 3600)},
    "medium": {"mean_open_prime_s": (900, 2700), "mean_open_offpeak_s": (1800, 5400),
               "mean_booked_s": (12 * 3600, 24 * 3600)},
    "moderate": {"mean_open_prime_s": (3600, 10800), "mean_open_offpeak_s": (7200, 21600),
                 "mean_booked_s": (8 * 3600, 16 * 3600)},
    "easy": {"mean_open_prime_s": (4 * 3600, 12 * 3600), "mean_open_offpeak_s": (8 * 3600, 24 * 3600),
             "mean_booked_s": (4 * 3600, 12 * 3600)},
}
# Booking demand by weekday of the slot date (Monday first).
WEEKDAY_FACTOR = (0.8, 0.8, 0.9, 1.1, 1.3, 1.35, 1.0)
# Lead-time bands (seconds before slot start) and the factors in force within them: band i is lead in
# (edges[i-1], edges[i]].
BOOKING_LEAD_EDGES = (86400.0, 3 * 86400.0)
BOOKING_LEAD_FACTORS = (1.5, 1.2, 1.0)          # <= 1 day, 1-3 days, > 3 days
CANCEL_LEAD_EDGES = (86400.0, 2 * 86400.0, 7 * 86400.0, 14 * 86400.0)
CANCEL_LEAD_FACTORS = (3.0, 4.0, 1.0, 0.5, 0.25)  # <= 1 d, 1-2 d (before a 24 h fee window), 2-7 d, 7-14 d, > 14 d
# Booking and cancelling activity by venue-local hour of day (0..23), normalised to mean 1 below:
# quiet overnight, a late-morning peak, the highest in the early evening.
_PROFILE_WEIGHTS = (0.35, 0.2, 0.12, 0.08, 0.08, 0.12, 0.3, 0.6, 0.9, 1.2, 1.5, 1.6,
                    1.4, 1.2, 1.1, 1.1, 1.3, 1.6, 1.7, 1.5, 1.2, 1.0, 0.8, 0.55)
ACTIVITY_PROFILE = tuple(w * 24 / sum(_PROFILE_WEIGHTS) for w in _PROFILE_WEIGHTS)
PRIME_START_MIN, PRIME_END_MIN = 18 * 60, 21 * 60  # prime: slot start in [18:00, 21:00]
SERVICES = {"lunch": (1, "Lunch", 12 * 60, 16 * 60), "dinner": (2, "Dinner", 17 * 60, 22 * 60 + 30)}
LAST_SEATING_BEFORE_END_MIN = 30   # slot starts run from the window start to end - 30 min
SLOT_LENGTH_MIN = 120              # date.end = date.start + 2 h
TABLE_TYPES = ("Dining Room", "Bar", "Patio", "Counter")
PARTY_CLASSES = (2, 4, 6)
RELEASE_TIMES_MIN = (0, 7 * 60, 9 * 60, 10 * 60, 11 * 60, 12 * 60)
CUTOFFS_MIN = (0, 15, 30, 45, 60)  # same-day booking cut-off before slot start; <= the 60-min guard

UNRELEASED, OPEN, BOOKED, GONE = 0, 1, 2, 3
REASONS = ("booked", "expired", "open")

NEIGHBORHOODS: dict[str, tuple[float, float]] = {
    "West Village": (40.7358, -74.0036), "East Village": (40.7265, -73.9815), "SoHo": (40.7233, -74.0030),
    "Tribeca": (40.7163, -74.0086), "Lower East Side": (40.7150, -73.9843), "Chinatown": (40.7158, -73.9970),
    "Nolita": (40.7223, -73.9955), "Greenwich Village": (40.7336, -73.9991), "Chelsea": (40.7465, -74.0014),
    "Flatiron": (40.7411, -73.9897), "Gramercy": (40.7368, -73.9845), "Midtown": (40.7549, -73.9840),
    "Hell's Kitchen": (40.7638, -73.9918), "Upper West Side": (40.7870, -73.9754),
    "Upper East Side": (40.7736, -73.9566), "Harlem": (40.8116, -73.9465),
    "Financial District": (40.7075, -74.0113), "NoMad": (40.7448, -73.9881), "Murray Hill": (40.7479, -73.9757),
    "Williamsburg": (40.7081, -73.9571), "Greenpoint": (40.7305, -73.9515), "Park Slope": (40.6710, -73.9814),
    "Carroll Gardens": (40.6795, -73.9991), "Fort Greene": (40.6920, -73.9742), "Bushwick": (40.6944, -73.9213),
    "Astoria": (40.7644, -73.9235), "Long Island City": (40.7447, -73.9485), "Dumbo": (40.7033, -73.9881),
    "Cobble Hill": (40.6860, -73.9969), "Prospect Heights": (40.6775, -73.9692),
    "Crown Heights": (40.6694, -73.9422), "Jackson Heights": (40.7557, -73.8831),
}
CUISINES = ("Italian", "French", "Japanese", "Korean", "Mexican", "American", "Chinese", "Thai", "Indian",
            "Mediterranean", "Spanish", "Greek", "Seafood", "Steakhouse", "Vietnamese", "Middle Eastern",
            "Peruvian", "Pizza", "Wine Bar", "Sushi")
_ADJ = ("Velvet", "Golden", "Silver", "Crimson", "Quiet", "Hidden", "Little", "Wild", "Salt", "Copper", "Iron",
        "Blue", "Olive", "Smoke", "Paper", "Amber", "Ivory", "Juniper", "Saffron", "Cedar", "Lucky", "Honest",
        "Hungry", "Sunday", "Midnight", "Northern", "Marble", "Linen", "Fig", "Harbor", "Orchard", "Ember",
        "Brass", "Rye", "Clover", "Maple", "Coral", "Lantern", "Stone", "Sparrow")
_NOUN = ("Anchor", "Table", "Fork", "Kitchen", "Garden", "Oyster", "Pearl", "Hearth", "Larder", "Tavern",
         "Canteen", "Supper Club", "Room", "Bistro", "Trattoria", "Counter", "Cellar", "House", "Grill",
         "Pantry", "Vine", "Swan", "Fox", "Heron", "Lemon", "Radish", "Tide", "Market", "Lounge", "Parlor",
         "Osteria", "Brasserie", "Diner", "Izakaya", "Bakery", "Social", "Smokehouse", "Noodle Bar", "Dock", "Yard")
_SURNAME = ("Moretti", "Delacroix", "Okafor", "Hayashi", "Lindqvist", "Castellano", "Abernathy", "Petrakis",
            "Nakamura", "Vasquez", "Oyelaran", "Brennan", "Kowalski", "Amari", "Fontaine", "Halloran")

_U64 = np.uint64
_GOLD = _U64(0x9E3779B97F4A7C15)
_M1, _M2 = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = _U64(30), _U64(27), _U64(31), _U64(11)
_MASK64 = (1 << 64) - 1


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer over a uint64 array (wrapping arithmetic): the counter-based RNG."""
    x = x + _GOLD
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def mix64_int(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def uniform01(h: np.ndarray) -> np.ndarray:
    """Map uint64 hashes to floats strictly inside (0, 1)."""
    return ((h >> _S11).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def to_ts(dt: datetime) -> float:
    """Naive UTC datetime -> float epoch seconds."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return (dt - EPOCH).total_seconds()


def from_ts(ts: float) -> datetime:
    return EPOCH + timedelta(microseconds=round(ts * 1e6))


def local_to_ts(day: date, minute: int) -> float:
    """Venue-local (America/New_York) date + minute of day -> epoch seconds."""
    return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=TZ).timestamp()


def local_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, TZ).date()


class ActivityClock:
    """Activity time A(t) = integral of ACTIVITY_PROFILE[venue-local hour] dt, and its inverse.

    Exact for the hourly step profile: A is piecewise linear on the UTC hour grid. Each local day is
    anchored at its own midnight (A(midnight) = midnight) and its weights are scaled to the day's length
    (23 or 25 hours across a DST change), so A's values on a day never depend on which other days are
    covered: a path is the same whatever range was asked for first.
    """

    def __init__(self) -> None:
        self._days: dict[date, tuple[np.ndarray, np.ndarray]] = {}
        self._first: date | None = None
        self._last: date | None = None
        self._t = np.zeros(0)
        self._a = np.zeros(0)

    @staticmethod
    def _day(d: date) -> tuple[np.ndarray, np.ndarray]:
        mid, nxt = local_to_ts(d, 0), local_to_ts(d + timedelta(days=1), 0)
        n = round((nxt - mid) / 3600)
        t = mid + 3600.0 * np.arange(n)
        hours = range(24) if n == 24 else [datetime.fromtimestamp(x, TZ).hour for x in t.tolist()]
        w = np.asarray(ACTIVITY_PROFILE)[list(hours)]
        w = w * (n / w.sum())
        return t, mid + 3600.0 * np.concatenate([[0.0], np.cumsum(w)[:-1]])

    def cover(self, first: date, last: date) -> None:
        """Make A and A^-1 exact over the local days [first, last]."""
        if self._first is not None and self._last is not None and self._first <= first and last <= self._last:
            return
        first = first if self._first is None else min(first, self._first)
        last = last if self._last is None else max(last, self._last)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        for d in days:
            if d not in self._days:
                self._days[d] = self._day(d)
        end = local_to_ts(last + timedelta(days=1), 0)
        self._t = np.concatenate([self._days[d][0] for d in days] + [np.array([end])])
        self._a = np.concatenate([self._days[d][1] for d in days] + [np.array([end])])
        self._first, self._last = first, last

    def to_activity(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self._t, self._a)

    def from_activity(self, a: np.ndarray) -> np.ndarray:
        return np.interp(a, self._a, self._t)


def party_class(party_size: int) -> int | None:
    """Inventory class serving a party size: 2, 4 or 6; None when no table fits."""
    for c in PARTY_CLASSES:
        if party_size <= c:
            return c
    return None


def hms(minute: int) -> str:
    """Minute of day -> 'HH:MM:SS' (the provider's slot times; [:5] is 'HH:MM')."""
    return f"{minute // 60:02d}:{minute % 60:02d}:00"


def parse_hhmm(s: str) -> int:
    """'HH:MM' -> minute of day; ValueError naming the value otherwise."""
    parts = s.split(":") if isinstance(s, str) else []
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts) \
            or int(parts[0]) > 23 or int(parts[1]) > 59:
        raise ValueError(f"time {s!r} is not HH:MM")
    return int(parts[0]) * 60 + int(parts[1])


@dataclass(frozen=True)
class Venue:
    venue_id: int
    name: str
    neighborhood: str
    lat: float
    lon: float
    price_range: int
    cuisine: str
    tz: str
    tier: str
    mean_open_prime_s: float
    mean_open_offpeak_s: float
    mean_booked_s: float
    booking_window_days: int
    release_time: str
    cutoff_minutes: int
    slot_interval_minutes: int
    services: tuple[str, ...]
    table_types: tuple[str, ...]
    party_sizes: tuple[int, ...]

    def slot_minutes(self) -> list[int]:
        out: list[int] = []
        for s in self.services:
            _, _, lo, hi = SERVICES[s]
            out.extend(range(lo, hi - LAST_SEATING_BEFORE_END_MIN + 1, self.slot_interval_minutes))
        return out

    def table_types_for(self, pclass: int) -> list[str]:
        if pclass not in self.party_sizes:
            return []
        if pclass == 2:
            return list(self.table_types)
        if pclass == 4:
            return [t for t in self.table_types if t in ("Dining Room", "Patio")]
        return ["Dining Room"]


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def generate_venues(seed: int, n: int) -> list[Venue]:
    """Deterministic venues for a seed: names from word lists, real NYC neighborhoods, true parameters."""
    rng = random.Random(f"tablepulse-venues-{seed}")
    hoods = list(NEIGHBORHOODS)
    names: set[str] = set()
    out: list[Venue] = []
    ids = rng.sample(range(1000, 1000 + max(20 * n, 10000)), n)
    for i in range(n):
        while True:
            pattern = rng.random()
            if pattern < 0.55:
                name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
            elif pattern < 0.75:
                name = f"{rng.choice(_SURNAME)}'s {rng.choice(_NOUN)}"
            elif pattern < 0.9:
                name = f"The {rng.choice(_ADJ)} {rng.choice(_NOUN)}"
            else:
                name = f"{rng.choice(_NOUN)} & {rng.choice(_NOUN)}"
            if name in names:
                name = f"{name} {rng.choice(('II', 'III', 'Uptown', 'Downtown', 'Annex', 'East', 'West'))}"
            if name not in names:
                names.add(name)
                break
        tier = rng.choices(TIERS, weights=TIER_SHARE)[0]
        ranges = TIER_RANGES[tier]
        hood = rng.choice(hoods)
        lat0, lon0 = NEIGHBORHOODS[hood]
        tier_i = TIERS.index(tier)
        price = max(1, min(4, 4 - tier_i // 2 + rng.choice((-1, 0, 0, 1))))
        ttypes = ["Dining Room"]
        for t, p in (("Bar", 0.5), ("Patio", 0.25), ("Counter", 0.15)):
            if rng.random() < p:
                ttypes.append(t)
        services = ("lunch", "dinner") if rng.random() < 0.7 else ("dinner",)
        out.append(Venue(
            venue_id=ids[i], name=name, neighborhood=hood,
            lat=round(lat0 + rng.uniform(-0.006, 0.006), 6), lon=round(lon0 + rng.uniform(-0.006, 0.006), 6),
            price_range=price, cuisine=rng.choice(CUISINES), tz=TZ_NAME, tier=tier,
            mean_open_prime_s=round(_log_uniform(rng, *ranges["mean_open_prime_s"]), 3),
            mean_open_offpeak_s=round(_log_uniform(rng, *ranges["mean_open_offpeak_s"]), 3),
            mean_booked_s=round(_log_uniform(rng, *ranges["mean_booked_s"]), 3),
            booking_window_days=rng.randint(7, 14) if tier_i < 2 else rng.randint(7, 30),
            release_time=hms(rng.choice(RELEASE_TIMES_MIN))[:5],
            cutoff_minutes=rng.choice(CUTOFFS_MIN), slot_interval_minutes=rng.choice((15, 30)),
            services=services, table_types=tuple(ttypes),
            party_sizes=(2, 4, 6) if rng.random() < 0.4 else (2, 4)))
    return out


class VirtualClock:
    """Virtual UTC time: manual when speed == 0, else `speed` x wall time from the last anchor."""

    def __init__(self, start_ts: float, speed: float) -> None:
        self.speed = float(speed)
        self._virtual = start_ts
        self._wall = time.monotonic()
        self._lock = threading.Lock()

    def now_ts(self) -> float:
        with self._lock:
            if not self.speed:
                return self._virtual
            return self._virtual + (time.monotonic() - self._wall) * self.speed

    def advance_to(self, ts: float) -> float:
        with self._lock:
            now = self._virtual + ((time.monotonic() - self._wall) * self.speed if self.speed else 0.0)
            if ts < now - 1e-6:
                raise ValueError(f"the virtual clock only moves forward: {from_ts(ts).isoformat()} is before "
                                 f"now {from_ts(now).isoformat()}")
            self._virtual = max(ts, now)
            self._wall = time.monotonic()
            return self._virtual


class _Template:
    """Static per-party-class row layout shared by every date: rows sorted by slot minute."""

    def __init__(self, venues: Sequence[Venue], pclass: int, seed: int) -> None:
        vi: list[int] = []
        mi: list[int] = []
        ti: list[int] = []
        for i, v in enumerate(venues):
            types = [TABLE_TYPES.index(t) for t in v.table_types_for(pclass)]
            for m in v.slot_minutes():
                for t in types:
                    vi.append(i)
                    mi.append(m)
                    ti.append(t)
        order = np.lexsort((np.asarray(ti), np.asarray(vi), np.asarray(mi))) if vi else np.zeros(0, np.int64)
        self.venue = np.asarray(vi, dtype=np.int32)[order]
        self.minute = np.asarray(mi, dtype=np.int32)[order]
        self.ttype = np.asarray(ti, dtype=np.int8)[order]
        mo_p = np.array([v.mean_open_prime_s for v in venues])
        mo_o = np.array([v.mean_open_offpeak_s for v in venues])
        self.prime = (self.minute >= PRIME_START_MIN) & (self.minute <= PRIME_END_MIN)
        self.mean_open = np.where(self.prime, mo_p[self.venue], mo_o[self.venue]) if vi else np.zeros(0)
        self.mean_booked = np.array([v.mean_booked_s for v in venues])[self.venue] if vi else np.zeros(0)
        self.cutoff_s = np.array([v.cutoff_minutes * 60.0 for v in venues])[self.venue] if vi else np.zeros(0)
        rel = np.array([parse_hhmm(v.release_time) for v in venues], dtype=np.int32)
        win = np.array([v.booking_window_days for v in venues], dtype=np.int32)
        self.release_min = rel[self.venue] if vi else np.zeros(0, np.int32)
        self.window = win[self.venue] if vi else np.zeros(0, np.int32)
        vid = np.array([v.venue_id for v in venues], dtype=np.uint64)
        base = mix64(np.full(1, seed, dtype=np.uint64) ^ _U64(0x5EED5EED))[0]
        h = mix64(vid[self.venue] ^ base) if vi else np.zeros(0, np.uint64)
        h = mix64(h ^ (self.minute.astype(np.uint64) * _U64(0x100000001B3)))
        h = mix64(h ^ _U64((pclass * 0xD6E8FEB86659FD93) & _MASK64) ^ self.ttype.astype(np.uint64))
        self.h0 = h

    def __len__(self) -> int:
        return len(self.venue)


class _Table:
    """Dynamic state of every slot of one (date, party class): the lazily advanced trajectories."""

    def __init__(self, tpl: _Template, day: date, pclass: int, activity: ActivityClock) -> None:
        n = len(tpl)
        self.day, self.pclass, self.tpl, self.activity = day, pclass, tpl, activity
        noon = local_to_ts(day, 12 * 60)
        self.start = noon - 12 * 3600.0 + tpl.minute * 60.0
        self.expiry = self.start - tpl.cutoff_s
        self.release = np.empty(n)
        for w in np.unique(tpl.window):
            for r in np.unique(tpl.release_min[tpl.window == w]):
                sel = (tpl.window == w) & (tpl.release_min == r)
                self.release[sel] = local_to_ts(day - timedelta(days=int(w)), int(r))
        if n:
            activity.cover(local_date(float(self.release.min())), day + timedelta(days=1))
        self.key = mix64(tpl.h0 ^ _U64((day.toordinal() * 0xC2B2AE3D27D4EB4F) & _MASK64))
        self.cfg_id = (self.key % _U64(900000)).astype(np.int64) + 100000
        self.b_rate_base = WEEKDAY_FACTOR[day.weekday()] / tpl.mean_open
        self.c_rate_base = 1.0 / tpl.mean_booked
        self.state = np.zeros(n, dtype=np.int8)
        self.t_next = self.release.copy()
        self.redraw = np.zeros(n, dtype=bool)  # the next event only starts a new lead band
        self.k = np.zeros(n, dtype=np.uint64)
        self.opened = np.full(n, np.nan)
        self.is_release = np.zeros(n, dtype=bool)
        self.touched = np.zeros(n, dtype=bool)
        self.advanced_to = np.full(n, -np.inf)
        # truth log of closed open-intervals, appended in chunks
        self.log_rows: list[np.ndarray] = []
        self.log_opened: list[np.ndarray] = []
        self.log_closed: list[np.ndarray] = []
        self.log_reason: list[np.ndarray] = []
        self.log_release: list[np.ndarray] = []

    def advance(self, idx: np.ndarray, t: float) -> int:
        """Process every transition due at or before t for rows idx. Returns transitions processed."""
        if idx.size == 0:
            return 0
        self.touched[idx] = True
        self.advanced_to[idx] = np.maximum(self.advanced_to[idx], t)
        due = idx[self.t_next[idx] <= t]
        done = 0
        edges = {OPEN: np.asarray(BOOKING_LEAD_EDGES), BOOKED: np.asarray(CANCEL_LEAD_EDGES)}
        factors = {OPEN: np.asarray(BOOKING_LEAD_FACTORS), BOOKED: np.asarray(CANCEL_LEAD_FACTORS)}
        while due.size:
            done += due.size
            te = self.t_next[due]
            st = self.state[due]
            redraw = self.redraw[due]
            expiring = te >= self.expiry[due]
            closing = (st == OPEN) & ~redraw
            if closing.any():
                r = due[closing]
                self.log_rows.append(r.astype(np.int32))
                self.log_opened.append(self.opened[r])
                self.log_closed.append(te[closing])
                self.log_reason.append(expiring[closing].astype(np.int8))
                self.log_release.append(self.is_release[r])
            new = np.where(expiring, GONE, np.where(redraw, st, np.where(st == OPEN, BOOKED, OPEN))).astype(np.int8)
            opening = (new == OPEN) & ~redraw
            if opening.any():
                r = due[opening]
                self.opened[r] = te[opening]
                self.is_release[r] = st[opening] == UNRELEASED
            # rate and the next lead-band edge (infinitely far in the last band) for the state entered
            lead = self.start[due] - te
            rate = np.zeros(due.size)
            band_end = np.full(due.size, np.inf)
            for state, base in ((OPEN, self.b_rate_base), (BOOKED, self.c_rate_base)):
                s = new == state
                band = np.searchsorted(edges[state], lead[s], side="left")
                rate[s] = base[due[s]] * factors[state][band]
                band_end[s] = self.start[due[s]] - np.concatenate([[-np.inf], edges[state]])[band]
            k = self.k[due]
            hold = -np.log(uniform01(mix64(self.key[due] + k * _GOLD))) / np.where(rate > 0, rate, 1.0)
            self.k[due] = k + _U64(1)
            bound = np.minimum(band_end, self.expiry[due])
            a_next = self.activity.to_activity(te) + hold
            hit = (a_next < self.activity.to_activity(bound)) & (new != GONE)
            nxt = bound.copy()
            nxt[hit] = np.minimum(self.activity.from_activity(a_next[hit]), bound[hit])
            nxt[new == GONE] = np.inf
            self.redraw[due] = ~hit & (band_end < self.expiry[due])
            self.t_next[due] = nxt
            self.state[due] = new
            due = due[nxt <= t]
        return done

    def closed_log(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if len(self.log_rows) > 1:
            self.log_rows = [np.concatenate(self.log_rows)]
            self.log_opened = [np.concatenate(self.log_opened)]
            self.log_closed = [np.concatenate(self.log_closed)]
            self.log_reason = [np.concatenate(self.log_reason)]
            self.log_release = [np.concatenate(self.log_release)]
        if not self.log_rows:
            return (np.zeros(0, np.int32), np.zeros(0), np.zeros(0), np.zeros(0, np.int8), np.zeros(0, bool))
        return (self.log_rows[0], self.log_opened[0], self.log_closed[0], self.log_reason[0], self.log_release[0])


class Market:
    """A seeded, deterministic reservation market with a virtual clock; thread-safe (one lock).

    ``Market(seed, n_venues, start, speed)``: ``start`` is the virtual UTC start (naive; default the
    current wall time to the minute), ``speed`` 0 = manual clock (only ``advance_to``/``advance`` move
    it), K > 0 = K times wall time. The ``truth_*`` methods are what the server and tests read; the
    provider API over a Market is simulator/api.py's ProviderApi.
    """

    def __init__(self, seed: int, n_venues: int = 400, start: datetime | None = None, speed: float = 0.0) -> None:
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(n_venues, int) or n_venues < 1:
            raise ValueError(f"n_venues must be a positive integer, got {n_venues!r}")
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed!r}")
        if start is None:
            start = datetime.now(ZoneInfo("UTC")).replace(tzinfo=None, second=0, microsecond=0)
        self.seed = seed
        self.venues = generate_venues(seed, n_venues)
        self.venue_index = {v.venue_id: i for i, v in enumerate(self.venues)}
        self.start_ts = to_ts(start)
        self.clock = VirtualClock(self.start_ts, speed)
        self.lock = threading.RLock()
        self._templates = {pc: _Template(self.venues, pc, seed) for pc in PARTY_CLASSES}
        self.activity = ActivityClock()
        self._tables: dict[tuple[date, int], _Table] = {}
        self.transitions_processed = 0

    # ---- clock ---------------------------------------------------------------------------------------
    @property
    def speed(self) -> float:
        return self.clock.speed

    def now(self) -> datetime:
        return from_ts(self.clock.now_ts())

    def now_ts(self) -> float:
        return self.clock.now_ts()

    def advance_to(self, t: datetime) -> datetime:
        """Move the virtual clock forward to t (naive UTC). Slots catch up lazily when next asked."""
        with self.lock:
            return from_ts(self.clock.advance_to(to_ts(t)))

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        with self.lock:
            return from_ts(self.clock.advance_to(self.clock.now_ts() + seconds))

    # ---- slot tables ---------------------------------------------------------------------------------
    def table(self, day: date, pclass: int) -> _Table:
        key = (day, pclass)
        tb = self._tables.get(key)
        if tb is None:
            tb = self._tables[key] = _Table(self._templates[pclass], day, pclass, self.activity)
        return tb

    def window_slice(self, tb: _Table, lo_min: int | None, hi_min: int | None) -> tuple[int, int]:
        """Row range [a, b) of the slots whose start minute is within [lo_min, hi_min] (inclusive)."""
        m = tb.tpl.minute
        a = 0 if lo_min is None else int(np.searchsorted(m, lo_min, side="left"))
        b = len(m) if hi_min is None else int(np.searchsorted(m, hi_min, side="right"))
        return a, b

    def advance_rows(self, tb: _Table, idx: np.ndarray, t: float) -> None:
        self.transitions_processed += tb.advance(idx, t)

    def materialize(self, days: Iterable[date], party_sizes: Iterable[int] = (2, 4),
                    time_filters: Iterable[str | None] = ("15:00", "19:00")) -> None:
        """Advance the slots of these buckets to now, so the truth covers them."""
        with self.lock:
            t = self.clock.now_ts()
            for d in days:
                for p in party_sizes:
                    pc = party_class(p)
                    if pc is None:
                        continue
                    tb = self.table(d, pc)
                    for tf in time_filters:
                        lo, hi = (None, None) if tf is None else (parse_hhmm(tf) - 60, parse_hhmm(tf) + 60)
                        a, b = self.window_slice(tb, lo, hi)
                        self.advance_rows(tb, np.arange(a, b), t)

    def forget_before(self, day: date) -> int:
        """Drop every slot table (state and truth) of dates before `day`, to bound memory in long runs.

        The truth for those dates is gone afterwards; returns the number of tables dropped.
        """
        with self.lock:
            old = [k for k in self._tables if k[0] < day]
            for k in old:
                del self._tables[k]
            return len(old)

    def _catch_up_touched(self, t: float) -> None:
        for tb in self._tables.values():
            idx = np.nonzero(tb.touched)[0]
            self.advance_rows(tb, idx, t)

    # ---- ground truth ----------------------------------------------------------------------------------
    def venues_truth(self) -> list[dict[str, Any]]:
        """Every venue with its true parameters (means in seconds at weekday, lead and activity factor 1)."""
        out = []
        for v in self.venues:
            d = asdict(v)
            d["services"] = [{"name": SERVICES[s][1], "start": hms(SERVICES[s][2])[:5], "end": hms(SERVICES[s][3])[:5]}
                             for s in v.services]
            d["table_types"] = list(v.table_types)
            d["party_sizes"] = list(v.party_sizes)
            d["drops_per_booked_day_base"] = round(86400.0 / v.mean_booked_s, 6)
            out.append(d)
        return out

    @staticmethod
    def model_parameters() -> dict[str, Any]:
        """The documented rate modulators and tier ranges (what venues_truth values are multiplied by)."""
        return {"tiers": {t: {k: list(r) for k, r in TIER_RANGES[t].items()} for t in TIERS},
                "tier_share": dict(zip(TIERS, TIER_SHARE, strict=True)),
                "weekday_factor": list(WEEKDAY_FACTOR),
                "booking_lead_edges_s": list(BOOKING_LEAD_EDGES), "booking_lead_factors": list(BOOKING_LEAD_FACTORS),
                "cancel_lead_edges_s": list(CANCEL_LEAD_EDGES), "cancel_lead_factors": list(CANCEL_LEAD_FACTORS),
                "lead_bands": "band i: seconds before slot start in (edges[i-1], edges[i]]",
                "activity_profile": list(ACTIVITY_PROFILE),
                "activity_profile_note": "rate multiplier by venue-local hour of day 0..23 (mean 1) for "
                                         "booking and cancelling; releases and expiries keep their times",
                "prime": "slot start in [18:00, 21:00] venue-local",
                "cutoff_minutes_max": max(CUTOFFS_MIN)}

    def truth_mean_open(self, tier: str) -> dict[str, float]:
        """Mean over the tier's venues of their base mean open durations (seconds) and cancel rate."""
        vs = [v for v in self.venues if v.tier == tier]
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
        if not vs:
            return {"venues": 0, "prime_s": float("nan"), "off_peak_s": float("nan"), "booked_s": float("nan")}
        return {"venues": len(vs), "prime_s": float(np.mean([v.mean_open_prime_s for v in vs])),
                "off_peak_s": float(np.mean([v.mean_open_offpeak_s for v in vs])),
                "booked_s": float(np.mean([v.mean_booked_s for v in vs]))}

    def truth_frame(self, start: datetime | None = None, end: datetime | None = None,
                    venue_id: int | None = None) -> dict[str, np.ndarray]:
        """True open intervals overlapping [start, end] as columns (epoch seconds; closed NaN if open).

        Covers every slot any query touched, advanced to now() first. Columns: venue_id, slot_date
        (ordinal), minute, party_size, table_type (index into TABLE_TYPES), opened, closed, reason
        (0 booked, 1 expired, 2 open), is_release, slot_start, expiry, mean_open, mean_booked, weekday.
        """
        with self.lock:
            now = self.clock.now_ts()
            self._catch_up_touched(now)
            s = -np.inf if start is None else to_ts(start)
            e = now if end is None else min(now, to_ts(end))
            vid_all = np.array([v.venue_id for v in self.venues], dtype=np.int64)
            cols: dict[str, list[np.ndarray]] = {k: [] for k in (
                "venue_id", "slot_date", "minute", "party_size", "table_type", "opened", "closed", "reason",
                "is_release", "slot_start", "expiry", "mean_open", "mean_booked", "weekday")}
            for (day, pc), tb in sorted(self._tables.items()):
                rows, op, cl, rs, rl = tb.closed_log()
                cur = np.nonzero(tb.state == OPEN)[0]
                rows = np.concatenate([rows, cur.astype(np.int32)])
                op = np.concatenate([op, tb.opened[cur]])
                cl = np.concatenate([cl, np.full(cur.size, np.nan)])
                rs = np.concatenate([rs, np.full(cur.size, 2, np.int8)])
                rl = np.concatenate([rl, tb.is_release[cur]])
                keep = (op <= e) & (np.isnan(cl) | (cl >= s))
                if venue_id is not None:
                    keep &= vid_all[tb.tpl.venue[rows]] == venue_id
                rows, op, cl, rs, rl = rows[keep], op[keep], cl[keep], rs[keep], rl[keep]
                n = rows.size
                cols["venue_id"].append(vid_all[tb.tpl.venue[rows]])
                cols["slot_date"].append(np.full(n, day.toordinal(), np.int64))
                cols["minute"].append(tb.tpl.minute[rows])
                cols["party_size"].append(np.full(n, pc, np.int64))
                cols["table_type"].append(tb.tpl.ttype[rows])
                cols["opened"].append(op)
                cols["closed"].append(cl)
                cols["reason"].append(rs)
                cols["is_release"].append(rl)
                cols["slot_start"].append(tb.start[rows])
                cols["expiry"].append(tb.expiry[rows])
                cols["mean_open"].append(tb.tpl.mean_open[rows])
                cols["mean_booked"].append(tb.tpl.mean_booked[rows])
                cols["weekday"].append(np.full(n, day.weekday(), np.int64))
            return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}

    def truth_intervals(self, start: datetime, end: datetime, venue_id: int | None = None) -> list[dict[str, Any]]:
        """True open intervals overlapping [start, end], one dict per interval.

        Keys: venue_id, slot_date 'YYYY-MM-DD', slot_time 'HH:MM:SS', party_size (inventory class),
        table_type, opened_at, closed_at (naive UTC datetimes; closed_at None while open), reason
        ('booked' | 'expired' | 'open'), is_release. Complete up to now() for touched slots (see truth_frame).
        """
        f = self.truth_frame(start, end, venue_id)
        order = np.lexsort((f["table_type"], f["party_size"], f["minute"], f["slot_date"], f["venue_id"],
                            f["opened"]))
        opened = _to_datetimes(f["opened"][order])
        closed = _to_datetimes(f["closed"][order])
        days = {o: date.fromordinal(int(o)).isoformat() for o in np.unique(f["slot_date"])}
        times = [hms(m) for m in range(1440)]
        return [{"venue_id": v, "slot_date": days[d], "slot_time": times[m], "party_size": p,
                 "table_type": TABLE_TYPES[t], "opened_at": o, "closed_at": c, "reason": REASONS[r],
                 "is_release": bool(rl)}
                for v, d, m, p, t, o, c, r, rl in zip(
                    f["venue_id"][order].tolist(), f["slot_date"][order].tolist(), f["minute"][order].tolist(),
                    f["party_size"][order].tolist(), f["table_type"][order].tolist(), opened, closed,
                    f["reason"][order].tolist(), f["is_release"][order].tolist(), strict=True)]

    def truth_fully_booked(self, start: datetime, end: datetime, time_filter: str = "19:00",
                           party_size: int = 2, window_days: int = 14, guard_minutes: int = 60) -> dict[int, float]:
        """Per venue, the true time-weighted share of watched time with NO slot open in the window.

        Definition. T = time_filter; the window of date d is the venue's slots of party class(party_size)
        starting within [T-60 min, T+60 min] on d (venue-local). Bucket (d, T) is *watched* at instant t
        when local_date(t) <= d < local_date(t) + window_days and t < local(d, T) - guard_minutes (the
        collector's default 14-day window, and no judgement inside the expiry guard). For each venue,
        share = sum over dates d of |{t in [start, end] watched for d, no window slot of the venue open}|
        divided by sum over d of |{t in [start, end] watched for d}|. end is clamped to now(). Venues with
        no slot in the window at all (e.g. no lunch service for 15:00) are left out. Time before a date's
        release counts as fully booked (nothing can be booked), as a poll would see it.
        """
        tf_min = parse_hhmm(time_filter)
        pc = party_class(party_size)
        if pc is None:
            return {}
        with self.lock:
            now = self.clock.now_ts()
            s, e = to_ts(start), min(to_ts(end), now)
            if e <= s:
                return {}
            nv = len(self.venues)
            watched = 0.0
            covered = np.zeros(nv)
            has_rows = np.zeros(nv, dtype=bool)
            d0 = local_date(s)
            d_last = local_date(e) + timedelta(days=window_days - 1)
            d = d0
            while d <= d_last:
                w_lo = max(s, local_to_ts(d - timedelta(days=window_days - 1), 0))
                w_hi = min(e, local_to_ts(d + timedelta(days=1), 0) if d < date.max else e,
                           local_to_ts(d, tf_min) - guard_minutes * 60.0)
                d_cur = d
                d += timedelta(days=1)
                if w_hi <= w_lo:
                    continue
                tb = self.table(d_cur, pc)
                a, b = self.window_slice(tb, tf_min - 60, tf_min + 60)
                idx = np.arange(a, b)
                self.advance_rows(tb, idx, now)
                has_rows[tb.tpl.venue[a:b]] = True
                watched += w_hi - w_lo
                rows, op, cl, _, _ = tb.closed_log()
                sel = (rows >= a) & (rows < b)
                cur = idx[tb.state[a:b] == OPEN]
                v = np.concatenate([tb.tpl.venue[rows[sel]], tb.tpl.venue[cur]])
                o = np.concatenate([op[sel], tb.opened[cur]])
                c = np.concatenate([cl[sel], np.full(cur.size, now)])
                o, c = np.clip(o, w_lo, w_hi) - w_lo, np.clip(c, w_lo, w_hi) - w_lo
                ok = c > o
                covered += _union_length(v[ok], o[ok], c[ok], nv)
            if watched <= 0:
                return {}
            share = 1.0 - covered / watched
            return {self.venues[i].venue_id: float(max(0.0, min(1.0, share[i]))) for i in np.nonzero(has_rows)[0]}


def _to_datetimes(ts: np.ndarray) -> list[datetime | None]:
    """Epoch seconds (NaN = none) -> naive UTC datetimes to the microsecond, None for NaN."""
    us = np.where(np.isnan(ts), 0, np.round(np.nan_to_num(ts) * 1e6)).astype(np.int64).astype("datetime64[us]")
    out: list[datetime | None] = us.tolist()
    for i in np.nonzero(np.isnan(ts))[0].tolist():
        out[i] = None
    return out


def _union_length(v: np.ndarray, o: np.ndarray, c: np.ndarray, nv: int) -> np.ndarray:
    """Per group v (0..nv-1), total length of the union of intervals [o, c) (all >= 0, < big)."""
    out = np.zeros(nv)
    if v.size == 0:
        return out
    big = float(max(c.max(), 1.0)) * 4.0 + 10.0
    order = np.lexsort((o, v))
    v, o, c = v[order], o[order] + v[order] * big, c[order] + v[order] * big
    reach = np.maximum.accumulate(c)
    new_seg = np.ones(v.size, dtype=bool)
    new_seg[1:] = o[1:] > reach[:-1]
    seg_id = np.cumsum(new_seg) - 1
    seg_start = o[new_seg]
    seg_end = np.zeros(seg_start.size)
    np.maximum.at(seg_end, seg_id, reach)
    np.add.at(out, v[new_seg], seg_end - seg_start)
    return out
