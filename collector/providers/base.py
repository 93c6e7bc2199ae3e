"""Provider contract and the shared HTTP policy every provider module builds on.

Owns Outcome, SlotKey, VenueInfo, PollResult, the Provider protocol, and HttpPolicy
(classification, retries with full-jitter backoff, retry budget, rate limit, Retry-After floor,
circuit breaker). Provider modules such as resy.py call it; the poller and health report read it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

import httpx
import msgspec
import orjson

from tablepulse_settings import Settings

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    OK = "ok"
    BAD_KEY = "bad_key"
    AUTH_EXPIRED = "auth_expired"
    CHALLENGE = "challenge"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    MALFORMED = "malformed"
    SCHEMA_DRIFT = "schema_drift"
    INCOMPLETE_PAGES = "incomplete_pages"
    BREAKER_OPEN = "breaker_open"


# Worth another try after a pause; everything else will not get better by asking again.
RETRYABLE = frozenset({Outcome.RATE_LIMITED, Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.NETWORK_ERROR})

CHALLENGE_MARKERS = ("captcha", "cf-chl", "challenge-platform", "just a moment")


class SlotKey(msgspec.Struct, frozen=True, gc=False, cache_hash=True, order=True):
    """Slot identity per DESIGN.md. Never the booking token: one slot can carry several.

    A frozen msgspec Struct: built, hashed and compared in C like a tuple, but ~3x cheaper to
    build than a NamedTuple, its hash is computed once (the diff hashes every slot of a poll
    several times), and gc=False keeps ~12k keys per poll out of the cyclic collector (a
    dataclass's Python-level __hash__ was once a third of a poll's CPU)."""

    provider: str
    venue_id: int
    slot_date: dt.date
    slot_time: dt.time
    party_size: int
    table_type: str


class VenueInfo(msgspec.Struct, frozen=True, gc=False):
    """A venue as a poll saw it (a Struct: a poll builds one per venue, ~5,000, in C)."""

    provider: str
    venue_id: int
    name: str
    neighborhood: str | None
    price_range: int | None
    cuisine: str | None
    tz: str
    lat: float | None
    lon: float | None


@dataclass
class PollResult:
    """One poll's answer. `page_times` holds, per page fetched (in order), the instant its accepted
    request was sent and the instant its response arrived, on the clock the caller passed to search;
    `page_ends[i]` is how many slot keys pages 0..i gave. The poller bounds its intervals with them:
    a slot on page i was open at some instant before page_times[i][1] (DESIGN: bounds hold the truth)."""

    outcome: Outcome
    venues: dict[int, VenueInfo] = field(default_factory=dict)  # empty unless OK
    slots: dict[SlotKey, None] = field(default_factory=dict)    # the open slots' keys in page order; empty unless OK
    pages: int = 0
    requests: int = 0
    http_status: int | None = None
    detail: str = ""
    retry_after_s: float | None = None
    latency_ms: float = 0.0  # time spent waiting on the provider (sleeps excluded)
    page_times: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    page_ends: list[int] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return self.outcome is Outcome.OK


class Provider(Protocol):
    name: str

    def search(self, day: dt.date, time_slot: str, party_size: int,
               now: Callable[[], dt.datetime] | None = None) -> PollResult: ...

    def health(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


# --- pure helpers ---------------------------------------------------------------------------


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**attempt)); attempt 0 is the first retry."""
    ceiling = cap if attempt >= 64 else min(cap, base * 2**attempt)
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (past dates give 0)."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        seconds = float(v)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def naive_utc_now() -> dt.datetime:
    """The default clock of page times (naive UTC, as every instant the collector stores)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class Fetched:
    """One logical request after the policy ran (retries included); body is parsed JSON when OK:
    the caller's typed decoder's result when it accepted the body, else plain JSON (dicts, lists)
    with the decoder's complaint in `decode_error` (what the caller reports as schema drift)."""

    outcome: Outcome
    body: Any = None
    decode_error: str | None = None
    http_status: int | None = None
    detail: str = ""
    retry_after_s: float | None = None
    requests: int = 0
    latency_ms: float = 0.0
    sent_at: dt.datetime | None = None       # the last attempt: request sent (on fetch's `now` clock)
    received_at: dt.datetime | None = None   # ... and its answer in (or its failure seen)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def _snippet(text: str, n: int = 60) -> str:
    return " ".join(text[:n].split())


Decode = Callable[[bytes], Any]


def _head(resp: httpx.Response) -> str:
    """The body's head as text, for sniffing (only when it is not the JSON expected): decoding a
    multi-MB JSON page to str cost more than parsing it."""
    return resp.content[:20000].decode(resp.encoding or "utf-8", errors="replace")


def _is_html(resp: httpx.Response, head: str) -> bool:
    return "html" in resp.headers.get("content-type", "").lower() or head.lstrip().lower().startswith("<")


def classify_response(resp: httpx.Response, now: dt.datetime, decode: Decode | None = None) -> Fetched:
    """Map an HTTP response onto an Outcome, per the table in docs/provider-api.md.

    `decode` (a typed msgspec decoder's decode) is tried first on a 2xx body; anything it rejects
    (malformed JSON, another shape) is parsed as plain JSON and classified exactly as without it,
    keeping the decoder's message."""
    status = resp.status_code
    retry_after = parse_retry_after(resp.headers.get("retry-after"), now)
    if 300 <= status < 400:
        where = resp.headers.get("location", "?")
        return Fetched(Outcome.AUTH_EXPIRED, http_status=status, detail=f"HTTP {status} redirect to {where}")
    if status == 419:
        return Fetched(Outcome.BAD_KEY, http_status=status, detail="HTTP 419: API key rejected")
    if status == 401:
        return Fetched(Outcome.AUTH_EXPIRED, http_status=status, detail="HTTP 401: auth token expired")
    if status == 429:
        wait = f", Retry-After {retry_after:g}s" if retry_after is not None else ""
        return Fetched(Outcome.RATE_LIMITED, http_status=status, retry_after_s=retry_after,
                       detail=f"HTTP 429{wait}")
    if status >= 500:
        return Fetched(Outcome.SERVER_ERROR, http_status=status, retry_after_s=retry_after,
                       detail=f"HTTP {status}")
    if status == 403:
        text = _head(resp)
        kind = "HTML page" if _is_html(resp, text) else "forbidden"
        return Fetched(Outcome.CHALLENGE, http_status=status, detail=f"HTTP 403 {kind}: {_snippet(text)!r}")
    if status >= 400 or status < 200:
        return Fetched(Outcome.SCHEMA_DRIFT, http_status=status, detail=f"unexpected HTTP {status}")
    decode_error = None
    if decode is not None:
        try:
            return Fetched(Outcome.OK, body=decode(resp.content), http_status=status)
        except (msgspec.MsgspecError, ValueError, RecursionError) as e:
            decode_error = str(e)   # not the expected shape: is it JSON at all? (below)
    try:
        body = orjson.loads(resp.content)   # ~2x faster than json on 5 MB polls (bench/poll_cycle.py)
    except (ValueError, RecursionError):
        text = _head(resp)
        if _is_html(resp, text) or any(m in text.lower() for m in CHALLENGE_MARKERS):
            return Fetched(Outcome.CHALLENGE, http_status=status,
                           detail=f"HTTP {status} challenge/HTML instead of JSON: {_snippet(text)!r}")
        return Fetched(Outcome.MALFORMED, http_status=status, detail=f"body is not JSON: {_snippet(text)!r}")
    return Fetched(Outcome.OK, body=body, http_status=status, decode_error=decode_error)


# --- policy components (all thread-safe) ----------------------------------------------------


class RateLimiter:
    """Token bucket of size one (requests evenly spaced at `rate_per_s`) plus the Retry-After floor.

    Each caller reserves the next free start time under the lock and sleeps outside it, so
    concurrent polls queue in order. The floor holds every thread back until it has passed.
    """

    def __init__(self, rate_per_s: float, monotonic: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self._interval = 1.0 / rate_per_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = -math.inf
        self._floor = -math.inf

    def set_floor(self, seconds: float) -> None:
        with self._lock:
            self._floor = max(self._floor, self._monotonic() + seconds)

    def floor_remaining(self) -> float:
        with self._lock:
            return max(0.0, self._floor - self._monotonic())

    def acquire(self, max_floor_wait: float = math.inf) -> float | None:
        """Wait for a request slot. Returns None when granted, or the remaining floor wait when
        the provider asked for a longer pause than `max_floor_wait` (the caller gives up)."""
        start: float | None = None
        while True:
            with self._lock:
                now = self._monotonic()
                if self._floor - now > max_floor_wait:
                    return self._floor - now
                if start is None or self._floor > start:
                    start = max(now, self._next, self._floor)
                    self._next = start + self._interval
                if start <= now:
                    return None
                wait = start - now
            self._sleep(wait)


class RetryBudget:
    """Retries may be at most `share` of the requests of the last `window_s` seconds.

    A small floor (`min_retries` per window) lets a quiet provider still retry a lone failure;
    share 0 disables retries entirely.
    """

    def __init__(self, share: float, monotonic: Callable[[], float], window_s: float = 60.0,
                 min_retries: int = 10) -> None:
        self.share = share
        self.window_s = window_s
        self.min_retries = min_retries
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._events: deque[tuple[float, bool]] = deque()  # (time, is_retry)
        self._retries = 0

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - self.window_s:
            _, was_retry = self._events.popleft()
            self._retries -= was_retry

    def note_request(self) -> None:
        with self._lock:
            now = self._monotonic()
            self._trim(now)
            self._events.append((now, False))

    def try_retry(self) -> bool:
        """Reserve one retry if the budget allows it (the retry is counted as a request)."""
        with self._lock:
            now = self._monotonic()
            self._trim(now)
            if self.share <= 0:
                return False
            allowed = self._retries < self.min_retries or self._retries + 1 <= self.share * (len(self._events) + 1)
            if allowed:
                self._events.append((now, True))
                self._retries += 1
            return allowed

    def usage(self) -> tuple[int, int]:
        """(requests, retries) in the current window."""
        with self._lock:
            self._trim(self._monotonic())
            return len(self._events), self._retries


class CircuitBreaker:
    """Opens after `failures` consecutive failed polls; after `reset_s` one trial poll goes through
    (half-open): success closes it, failure opens it again for another `reset_s`."""

    def __init__(self, failures: int, reset_s: float, monotonic: Callable[[], float]) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._state = "closed"
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.consecutive_failures = 0

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == "open" and self._monotonic() - self._opened_at >= self.reset_s:
                return "half_open"
            return self._state

    def allow(self) -> float | None:
        """None if a poll may go ahead; otherwise seconds until the next trial is due."""
        with self._lock:
            if self._state == "closed":
                return None
            if self._state == "open":
                remaining = self._opened_at + self.reset_s - self._monotonic()
                if remaining > 0:
                    return remaining
                self._state = "half_open"
                self._trial_in_flight = False
            if self._trial_in_flight:
                return self.reset_s  # one trial at a time; its verdict decides
            self._trial_in_flight = True
            return None

    def record(self, success: bool) -> None:
        with self._lock:
            if success:
                self._state, self.consecutive_failures = "closed", 0
            else:
                self.consecutive_failures += 1
                if self._state == "half_open" or (
                        self._state == "closed" and self.consecutive_failures >= self.failures):
                    self._state, self._opened_at = "open", self._monotonic()
            self._trial_in_flight = False

    def release(self) -> None:
        """A poll ended without asking the provider anything (held back): no verdict either way."""
        with self._lock:
            self._trial_in_flight = False


class HttpPolicy:
    """The HTTP policy shared by every provider: one request with classification and retries
    (`fetch`), and one poll guarded by the circuit breaker with outcome bookkeeping (`run_poll`)."""

    def __init__(self, client: httpx.Client, settings: Settings, *, sleep: Callable[[float], None],
                 monotonic: Callable[[], float], rng: random.Random | None = None,
                 wall_clock: Callable[[], dt.datetime] | None = None) -> None:
        self.client = client
        self.max_retries = settings.max_retries
        self.backoff_base_s = settings.backoff_base_s
        self.backoff_cap_s = settings.backoff_cap_s
        self.sleep = sleep
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self.wall_clock = wall_clock or _utc_now
        self.limiter = RateLimiter(settings.rate_limit_per_s, monotonic, sleep)
        self.budget = RetryBudget(settings.retry_budget, monotonic)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s, monotonic)
        self._lock = threading.Lock()
        self._counts: Counter[Outcome] = Counter()
        self._last: tuple[Outcome, str] | None = None   # outcome and detail of the last poll

    def fetch(self, method: str, url: str | httpx.URL, decode: Decode | None = None,
              now: Callable[[], dt.datetime] = naive_utc_now, **kwargs: Any) -> Fetched:
        """One logical request; `now` stamps the last attempt's send and receipt (sent_at, received_at)."""
        requests, latency_ms, attempt = 0, 0.0, 0
        while True:
            # A Retry-After longer than the backoff cap is not waited out inside a poll: the poll
            # ends RATE_LIMITED and the floor keeps every later request back until it passes.
            floor_wait = self.limiter.acquire(max_floor_wait=self.backoff_cap_s)
            if floor_wait is not None:
                return Fetched(Outcome.RATE_LIMITED, retry_after_s=floor_wait, requests=requests,
                               latency_ms=latency_ms,
                               detail=f"holding back {floor_wait:.1f}s more for the provider's Retry-After")
            if attempt == 0:
                self.budget.note_request()
            requests += 1
            t0, sent_at = self.monotonic(), now()
            try:
                resp = self.client.request(method, url, **kwargs)
                received_at = now()
                f = classify_response(resp, self.wall_clock(), decode)
            except httpx.TimeoutException as e:
                received_at = now()
                f = Fetched(Outcome.TIMEOUT, detail=f"{type(e).__name__}: {e}")
            except httpx.HTTPError as e:
                received_at = now()
                f = Fetched(Outcome.NETWORK_ERROR, detail=f"{type(e).__name__}: {e}")
            latency_ms += (self.monotonic() - t0) * 1000.0
            f.requests, f.latency_ms, f.sent_at, f.received_at = requests, latency_ms, sent_at, received_at
            if f.retry_after_s is not None:
                self.limiter.set_floor(f.retry_after_s)
            if f.outcome not in RETRYABLE or attempt >= self.max_retries:
                return f
            if f.retry_after_s is not None and f.retry_after_s > self.backoff_cap_s:
                return f
            if not self.budget.try_retry():
                f.detail += " (retry budget exhausted, not retried)"
                return f
            self.sleep(backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, self.rng))
            attempt += 1

    def run_poll(self, poll: Callable[[], PollResult]) -> PollResult:
        remaining = self.breaker.allow()
        if remaining is not None:
            result = PollResult(Outcome.BREAKER_OPEN, retry_after_s=remaining,
                                detail=f"circuit breaker open after {self.breaker.consecutive_failures} "
                                       f"consecutive failed polls; next trial in {remaining:.1f}s")
        else:
            try:
                result = poll()
            except Exception as e:  # a parser bug must read as an untrusted poll, never as data
                log.exception("provider poll raised")
                result = PollResult(Outcome.MALFORMED, detail=f"unexpected error: {type(e).__name__}: {e}")
            except BaseException:
                self.breaker.record(False)
                raise
            if result.requests == 0 and result.outcome is not Outcome.OK:
                self.breaker.release()  # held back by a Retry-After floor: no news about the upstream
            else:
                self.breaker.record(result.outcome is Outcome.OK)
        with self._lock:
            self._counts[result.outcome] += 1
            self._last = (result.outcome, result.detail)
        return result

    def health(self) -> dict[str, Any]:
        requests, retries = self.budget.usage()
        with self._lock:
            counts = {o.value: self._counts[o] for o in Outcome}
            last = self._last
        return {
            "breaker_state": self.breaker.state,
            "consecutive_failures": self.breaker.consecutive_failures,
            "requests_last_minute": requests,
            "retries_last_minute": retries,
            "retry_budget_used": retries / requests if requests else 0.0,
            "retry_budget_limit": self.budget.share,
            "retry_after_floor_s": self.limiter.floor_remaining(),
            "last_outcome": last[0].value if last else None,
            "last_detail": last[1] if last else None,
            "outcome_counts": counts,
        }


__all__ = [
    "CHALLENGE_MARKERS", "RETRYABLE", "CircuitBreaker", "Fetched", "HttpPolicy", "Outcome",
    "PollResult", "Provider", "RateLimiter", "RetryBudget", "SlotKey", "VenueInfo", "backoff_delay",
    "classify_response", "naive_utc_now", "parse_retry_after",
]
