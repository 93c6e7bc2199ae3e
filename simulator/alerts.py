"""The simulated alert client: users with goals get alerts for matching NEW_DROPs and act on them.

Used by the demo launcher (``python -m simulator.alerts --endpoint URL --snapshot PATH``) and by the
funnel tests. It registers each user's goal (POST /v1/goals), then for every drop matching a goal
simulates a journey (sent -> opened -> tapped -> booked, seeded probabilities and delays, some
after the slot had closed) and reports it through the real endpoint over HTTP: mixed single and
batch posts, retries on 5xx / 429 / timeouts, lost responses that force retries, deliberate
duplicate sends and a per-user client clock skew. ``Truth`` keeps every journey as it really
happened so tests can compare the funnel analytics with it.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import sys
import time as time_mod
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb
import httpx

log = logging.getLogger(__name__)

STEPS = ("alert_sent", "alert_opened", "tap_to_reserve", "booking_confirmed")
NEIGHBORHOODS_FALLBACK = ["West Village", "SoHo", "Williamsburg", "Lower East Side", "Tribeca"]

# Drops in the published snapshot: finished NEW_DROP intervals and those still open.
SNAPSHOT_DROPS_SQL = """
SELECT d.interval_id, d.venue_id, v.neighborhood, d.slot_date, d.slot_time, d.party_size,
       d.time_bucket, d.opened_hi, d.closed_lo, d.closed_hi, d.end_reason
FROM (
    SELECT interval_id, provider, venue_id, slot_date, slot_time, party_size, time_bucket, opened_hi,
           closed_lo, closed_hi, end_reason
    FROM slot_intervals WHERE source = 'drop' AND opened_hi >= $since
    UNION ALL
    SELECT o.interval_id, o.provider, o.venue_id, o.slot_date, o.slot_time, o.party_size, b.time_bucket,
           o.opened_hi, NULL, NULL, NULL
    FROM open_slots o JOIN buckets b ON b.bucket_id = o.bucket_id AND b.party_size = o.party_size
    WHERE o.source = 'drop' AND o.opened_hi >= $since
) d
LEFT JOIN venues v ON v.provider = d.provider AND v.venue_id = d.venue_id
ORDER BY d.opened_hi
"""


@dataclass
class Goal:
    goal_id: str
    user_id: str
    date_from: date
    date_to: date
    time_from: time
    time_to: time
    party_size: int
    neighborhoods: list[str]
    venue_ids: list[int]

    def matches(self, d: dict[str, Any]) -> bool:
        return (self.date_from <= _as_date(d["slot_date"]) <= self.date_to
                and self.time_from <= _as_time(d["slot_time"]) <= self.time_to
                and self.party_size == int(d["party_size"])
                and (not self.venue_ids or int(d["venue_id"]) in self.venue_ids)
                and (not self.neighborhoods or d.get("neighborhood") in self.neighborhoods))

    def payload(self) -> dict[str, Any]:
        return {"goal_id": self.goal_id, "user_id": self.user_id, "date_from": self.date_from.isoformat(),
                "date_to": self.date_to.isoformat(), "time_from": self.time_from.strftime("%H:%M"),
                "time_to": self.time_to.strftime("%H:%M"), "party_size": self.party_size,
                "neighborhoods": self.neighborhoods, "venue_ids": self.venue_ids}


@dataclass
class Journey:
    """One alert as it really happened (true server-clock times; None = step did not happen)."""

    alert_id: str
    user_id: str
    drop: dict[str, Any]
    goal_match_score: float
    skew_s: float                         # this user's client clock minus true time
    times: dict[str, datetime | None]     # step -> true time
    message_ids: dict[str, str] = field(default_factory=dict)


@dataclass
class Truth:
    journeys: list[Journey] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    drops_seen: int = 0
    acked: set[str] = field(default_factory=set)      # message_ids the server acknowledged (2xx)
    requests: int = 0
    retries: int = 0
    duplicate_sends: int = 0
    server_duplicates: int = 0

    def delivered(self, j: Journey, step: str) -> datetime | None:
        t = j.times.get(step)
        return t if t is not None and j.message_ids.get(step) in self.acked else None


class FlakyTransport(httpx.BaseTransport):
    """Client-side faults: a synthetic 503 (not sent), a connect error (not sent), or a read timeout
    AFTER the server answered (sent and committed, response lost): each with probability rate / 3."""

    def __init__(self, rate: float, seed: int, inner: httpx.BaseTransport | None = None) -> None:
        self.rate, self.rng, self.inner = rate, random.Random(seed), inner or httpx.HTTPTransport()
        self.faults = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        x = self.rng.random()
        if x < self.rate / 3:
            self.faults += 1
            return httpx.Response(503, headers={"Retry-After": "0"}, request=request)
        if x < 2 * self.rate / 3:
            self.faults += 1
            raise httpx.ConnectError("simulated connect failure", request=request)
        resp = self.inner.handle_request(request)
        if x < self.rate:
            resp.read()
            resp.close()
            self.faults += 1
            raise httpx.ReadTimeout("simulated lost response", request=request)
        return resp

    def close(self) -> None:
        self.inner.close()


def _as_date(v: Any) -> date:
    return v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v)[:10])


def _as_time(v: Any) -> time:
    return v if isinstance(v, time) else time.fromisoformat(str(v)[:8])


def _iso(t: datetime) -> str:
    return t.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _quantile(xs: list[float], q: float) -> float | None:
    """Linear interpolation between order statistics (DuckDB quantile_cont, numpy 'linear')."""
    if not xs:
        return None
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class AlertSimulator:
    def __init__(self, base_url: str, write_key: str, seed: int = 7, *, users: int = 30,
                 p_open: float = 0.65, p_tap: float = 0.55, p_book_open_slot: float = 0.6,
                 p_book_closed_slot: float = 0.03, max_skew_s: float = 120.0, dup_rate: float = 0.08,
                 lost_response_rate: float = 0.05, single_share: float = 0.3, max_batch: int = 40,
                 fault_rate: float = 0.0, timeout_s: float = 5.0, max_retries: int = 8,
                 client: httpx.Client | None = None) -> None:
        self.rng = random.Random(seed)
        self.write_key = write_key
        self.users = [f"user-{seed}-{i:03d}" for i in range(users)]
        self.skew = {u: self.rng.uniform(-max_skew_s, max_skew_s) for u in self.users}
        self.p_open, self.p_tap = p_open, p_tap
        self.p_book_open_slot, self.p_book_closed_slot = p_book_open_slot, p_book_closed_slot
        self.dup_rate, self.lost_response_rate = dup_rate, lost_response_rate
        self.single_share, self.max_batch, self.max_retries = single_share, max_batch, max_retries
        self.transport = FlakyTransport(fault_rate, seed + 1) if fault_rate else None
        self.client = client or httpx.Client(base_url=base_url, timeout=timeout_s, transport=self.transport)
        self.truth = Truth()
        self._seen: set[str] = set()
        self._pending: list[tuple[datetime, dict[str, Any]]] = []   # (true time, event payload w/o sent_at)
        self._sent_payloads: list[dict[str, Any]] = []

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- HTTP with retries ------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.write_key}"}
        for attempt in range(self.max_retries + 1):
            self.truth.requests += 1
            if attempt:
                self.truth.retries += 1
            try:
                r = self.client.post(path, json=body, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as e:
                log.debug("POST %s failed (%s); retrying", path, e)
                time_mod.sleep(min(1.0, 0.05 * 2 ** attempt))
                continue
            if r.status_code >= 500 or r.status_code == 429:
                wait = float(r.headers.get("retry-after", "0.1") or 0.1)
                time_mod.sleep(min(wait, 1.0) * self.rng.uniform(0.5, 1.0))
                continue
            if r.is_success and attempt < self.max_retries and self.rng.random() < self.lost_response_rate:
                continue  # the response "got lost": retry the very same request (same message_ids)
            if not r.is_success:
                raise RuntimeError(f"POST {path} answered {r.status_code}: {r.text[:500]}")
            return r
        raise RuntimeError(f"POST {path}: gave up after {self.max_retries} retries")

    # -- goals ----------------------------------------------------------------------------------------
    def register_goals(self, now: datetime, drops: list[dict[str, Any]]) -> list[Goal]:
        """One goal per user: a date window from today, an evening or afternoon time range, a party
        size, and sometimes a neighborhood list or a few venues taken from the drops seen."""
        hoods = sorted({d["neighborhood"] for d in drops if d.get("neighborhood")}) or NEIGHBORHOODS_FALLBACK
        venues = sorted({int(d["venue_id"]) for d in drops})
        goals = []
        for u in self.users:
            start = now.date() + timedelta(days=self.rng.randint(0, 2))
            tf, tt = self.rng.choice([(time(17, 0), time(22, 0)), (time(12, 0), time(16, 0)),
                                      (time(14, 0), time(20, 0)), (time(0, 0), time(23, 59))])
            kind = self.rng.random()
            g = Goal(self._uuid(), u, start, start + timedelta(days=self.rng.randint(3, 13)), tf, tt,
                     self.rng.choice([2, 2, 4]),
                     self.rng.sample(hoods, min(len(hoods), self.rng.randint(1, 3))) if kind < 0.4 else [],
                     self.rng.sample(venues, min(len(venues), self.rng.randint(1, 5))) if 0.4 <= kind < 0.55
                     and venues else [])
            self._post("/v1/goals", g.payload())
            goals.append(g)
        self.truth.goals.extend(goals)
        return goals

    # -- journeys -------------------------------------------------------------------------------------
    def _journey(self, user: str, d: dict[str, Any]) -> Journey:
        r = self.rng
        opened_hi = d["opened_hi"]
        sent = opened_hi + timedelta(seconds=r.uniform(1, 20))
        times: dict[str, datetime | None] = dict.fromkeys(STEPS)
        times["alert_sent"] = sent
        if r.random() < self.p_open:
            # most open within minutes, a long tail opens much later (after the slot is gone)
            delay = r.lognormvariate(math.log(90), 1.3)
            times["alert_opened"] = opened = sent + timedelta(seconds=delay)
            if r.random() < self.p_tap:
                times["tap_to_reserve"] = tapped = opened + timedelta(seconds=r.lognormvariate(math.log(25), 1.0))
                gone = d.get("closed_lo")
                still_open = gone is None or tapped <= gone
                if r.random() < (self.p_book_open_slot if still_open else self.p_book_closed_slot):
                    times["booking_confirmed"] = tapped + timedelta(seconds=r.lognormvariate(math.log(120), 0.8))
        j = Journey(self._uuid(), user, d, round(r.uniform(0.4, 1.0), 3), self.skew[user], times)
        for step in STEPS:
            t = times[step]
            if t is None:
                continue
            j.message_ids[step] = mid = self._uuid()
            ev = {"message_id": mid, "alert_id": j.alert_id, "user_id": user, "event_type": step,
                  "drop_event_id": d["interval_id"] if r.random() < 0.5 else f"{d['interval_id']}|NEW_DROP",
                  "venue_id": int(d["venue_id"]), "goal_match_score": j.goal_match_score,
                  "metadata": {"platform": r.choice(["ios", "android", "web"]), "sim": True}}
            self._pending.append((t, ev))
        return j

    def run_for_drops(self, drops: list[dict[str, Any]], now: datetime) -> Truth:
        """Alert every user whose goal matches a new drop, then report every event whose true time
        is <= now (later ones wait for a later call). ``now`` is the server's clock (naive UTC)."""
        new = [d for d in drops if d["interval_id"] not in self._seen and d["opened_hi"] <= now]
        if new and not self.truth.goals:
            self.register_goals(now, new)
        for d in new:
            self._seen.add(d["interval_id"])
            self.truth.drops_seen += 1
            for g in self.truth.goals:
                if g.matches(d):
                    self.truth.journeys.append(self._journey(g.user_id, d))
        self._flush(now)
        return self.truth

    def _flush(self, now: datetime) -> None:
        due = [(t, ev) for t, ev in self._pending if t <= now]
        self._pending = [(t, ev) for t, ev in self._pending if t > now]
        self.rng.shuffle(due)  # arrival order differs from occurrence order (offline phones)
        i = 0
        while i < len(due):
            n = 1 if self.rng.random() < self.single_share else self.rng.randint(2, self.max_batch)
            chunk = due[i:i + n]
            i += n
            events = [self._stamp(t, ev, now) for t, ev in chunk]
            # deliberate duplicates: re-send some already acknowledged events in this request
            if self._sent_payloads and self.rng.random() < self.dup_rate:
                k = min(len(self._sent_payloads), self.rng.randint(1, 3))
                events += [{**e, "sent_at": _iso(now + timedelta(seconds=self.skew[e["user_id"]]))}
                           for e in self.rng.sample(self._sent_payloads, k)]
                self.truth.duplicate_sends += k
            if len(events) == 1:
                r = self._post("/v1/events", events[0])
                if r.json()["duplicate"]:
                    self.truth.server_duplicates += 1
            else:
                body = self._post("/v1/batch", {"events": events}).json()
                if body["invalid"]:
                    raise RuntimeError(f"server rejected simulated events: {body['errors'][:3]}")
                self.truth.server_duplicates += body["duplicates"]
            for e in events:
                self.truth.acked.add(e["message_id"])
            self._sent_payloads.extend(events[:len(chunk)])

    def _stamp(self, t: datetime, ev: dict[str, Any], now: datetime) -> dict[str, Any]:
        skew = timedelta(seconds=self.skew[ev["user_id"]])
        return {**ev, "occurred_at": _iso(t + skew), "sent_at": _iso(now + skew)}

    # -- the client's own truth -----------------------------------------------------------------------
    def truth_funnel(self, tap_window_s: int = 1800, book_window_s: int = 86400) -> dict[str, Any]:
        """The funnel computed from the true journeys with the documented definition (ordered steps,
        windows from alert_sent, too-late against the drop's closed_lo / closed_hi)."""
        rows = []
        for j in self.truth.journeys:
            s = self.truth.delivered(j, "alert_sent")
            if s is None:
                continue
            tap_end = s + timedelta(seconds=tap_window_s)
            book_end = s + timedelta(seconds=book_window_s)
            o = self.truth.delivered(j, "alert_opened")
            o = o if o is not None and s <= o <= tap_end else None
            t = self.truth.delivered(j, "tap_to_reserve")
            t = t if o is not None and t is not None and o <= t <= tap_end else None
            b = self.truth.delivered(j, "booking_confirmed")
            b = b if t is not None and b is not None and t <= b <= book_end else None
            rows.append((j, s, o, t, b))
        stamps = [(s, o, t, b) for _j, s, o, t, b in rows]
        counts = {"alert_sent": len(rows), "alert_opened": sum(r[2] is not None for r in rows),
                  "tap_to_reserve": sum(r[3] is not None for r in rows),
                  "booking_confirmed": sum(r[4] is not None for r in rows)}
        times: dict[str, dict[str, float | int | None]] = {}
        for name, k in (("sent_to_open", 1), ("sent_to_tap", 2), ("sent_to_book", 3)):
            xs = [(x - r[0]).total_seconds() for r in stamps if (x := r[k]) is not None]
            times[name] = {"n": len(xs), "median_s": statistics.median(xs) if xs else None,
                           "p90_s": _quantile(xs, 0.9)}
        late = {"n_acted": 0, "n_acted_too_late": 0, "n_acted_possibly_late": 0}
        for j, _s, o, t, _b in rows:
            if o is None:
                continue
            late["n_acted"] += 1
            last = t or o
            hi, lo = j.drop.get("closed_hi"), j.drop.get("closed_lo")
            if hi is None or j.drop.get("end_reason") not in ("closed", "expired"):
                continue
            if last > hi:
                late["n_acted_too_late"] += 1
            elif lo is not None and lo < last <= hi:
                late["n_acted_possibly_late"] += 1
        matched = {d_id for j in self.truth.journeys for d_id in [j.drop["interval_id"]]}
        return {"steps": counts, "times": times, "too_late": late, "alerts": len(rows),
                "drops_with_alerts": len(matched)}


def read_drops(snapshot: str, since: datetime) -> list[dict[str, Any]]:
    """NEW_DROPs first seen since SINCE from the published read-only snapshot (connection closed after)."""
    con = duckdb.connect(snapshot, read_only=True, config={"autoinstall_known_extensions": False})
    try:
        cur = con.execute(SNAPSHOT_DROPS_SQL, {"since": since})
        cols = [c[0] for c in cur.description or []]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulator.alerts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="tracking endpoint base URL, e.g. http://127.0.0.1:8071")
    p.add_argument("--snapshot", required=True, help="the collector's published read-only DuckDB snapshot")
    p.add_argument("--write-key", default="tp-demo-write-key")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--users", type=int, default=30)
    p.add_argument("--interval", type=float, default=10.0, help="seconds between snapshot reads")
    p.add_argument("--lookback-hours", type=float, default=24.0, help="drops this recent are alerted on start")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s alerts %(message)s")
    sim = AlertSimulator(a.endpoint, a.write_key, a.seed, users=a.users)
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=a.lookback_hours)
    while True:
        now = datetime.now(UTC).replace(tzinfo=None)
        try:
            drops = read_drops(a.snapshot, since)
        except (duckdb.Error, OSError) as e:  # snapshot not published yet or being replaced
            log.info("snapshot not readable yet: %s", e)
            drops = []
        try:
            t = sim.run_for_drops(drops, now)
            log.info("drops seen %d, alerts %d, requests %d, retries %d", t.drops_seen, len(t.journeys),
                     t.requests, t.retries)
        except (RuntimeError, httpx.HTTPError) as e:
            log.warning("endpoint trouble: %s", e)
        if a.once:
            return 0
        time_mod.sleep(a.interval)


if __name__ == "__main__":
    sys.exit(main())
