"""Fault plan: which provider-API requests fail, how, and the log of every fault injected.

simulator/server.py asks ``FaultPlan.decide`` once per provider request (numbered from 1) and applies
the returned fault; the plan is set at start (``--fault`` on the CLI, ``parse_fault_spec``) or live via
``POST /_sim/faults``. Decisions depend only on (seed, rule position, request number): reproducible.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from simulator.model import mix64_int

# kind -> what the server does
KINDS: dict[str, str] = {
    "http_500": "HTTP 500 with a JSON error body",
    "http_503": "HTTP 503 with a JSON error body",
    "rate_limit": "HTTP 429 with Retry-After in seconds (retry_after, default 2)",
    "rate_limit_date": "HTTP 429 with Retry-After as an HTTP-date (retry_after seconds from wall now, default 2)",
    "slow": "answers normally after sleeping `delay` wall seconds (default 15, past a 10 s client timeout)",
    "malformed": "HTTP 200 with a truncated, unparsable JSON body",
    "challenge_200": "HTTP 200 with an HTML bot-challenge page",
    "challenge_403": "HTTP 403 with an HTML bot-challenge page",
    "drift_rename": "schema drift: every hit's `availability` renamed `avail` (/4/find: `slots` -> `slot_list`)",
    "drift_missing_id": "schema drift: every hit's `id` removed (/4/find: the venue's `id`)",
    "missing_page": "a page >= 2 of a search answers hits [] (mode=empty) or 404 (mode=404) while nbPages says more",
    "empty_results": "zero hits (nbHits 0) / no slots, as if the market were empty",
}
PATHS = ("any", "search", "find")


class FaultError(ValueError):
    """A fault rule is invalid; the message names the field."""


@dataclass
class FaultRule:
    """One rule: fires on each matching request with `probability`, or on the next `count` matching ones."""

    kind: str
    probability: float | None = None
    count: int | None = None
    path: str = "any"
    retry_after: int = 2
    delay: float = 15.0
    mode: str = "empty"
    fired: int = 0

    def matches(self, path_kind: str, page: int) -> bool:
        if self.path != "any" and self.path != path_kind:
            return False
        if self.kind == "missing_page":
            return path_kind == "search" and page >= 2
        return True

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "path": self.path, "fired": self.fired}
        if self.probability is not None:
            d["probability"] = self.probability
        if self.count is not None:
            d["count"] = self.count
            d["remaining"] = max(0, self.count - self.fired)
        if self.kind in ("rate_limit", "rate_limit_date"):
            d["retry_after"] = self.retry_after
        if self.kind == "slow":
            d["delay"] = self.delay
        if self.kind == "missing_page":
            d["mode"] = self.mode
        return d


def rule_from_dict(d: Any) -> FaultRule:
    if not isinstance(d, dict):
        raise FaultError(f"a fault rule must be an object, got {d!r}")
    unknown = set(d) - {"kind", "probability", "p", "count", "path", "retry_after", "delay", "mode"}
    if unknown:
        raise FaultError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    kind = d.get("kind")
    if kind not in KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}")
    prob = d.get("probability", d.get("p"))
    count = d.get("count")
    if (prob is None) == (count is None):
        raise FaultError(f"fault {kind}: give exactly one of probability (0..1) or count (next N requests)")
    if prob is not None:
        if isinstance(prob, bool) or not isinstance(prob, int | float) or not 0 <= prob <= 1:
            raise FaultError(f"fault {kind}: probability must be a number in [0, 1], got {prob!r}")
        prob = float(prob)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise FaultError(f"fault {kind}: count must be a positive integer, got {count!r}")
    path = d.get("path", "any")
    if path not in PATHS:
        raise FaultError(f"fault {kind}: path must be one of {', '.join(PATHS)}, got {path!r}")
    retry_after = d.get("retry_after", 2)
    if isinstance(retry_after, bool) or not isinstance(retry_after, int) or not 0 <= retry_after <= 86400:
        raise FaultError(f"fault {kind}: retry_after must be whole seconds in [0, 86400], got {retry_after!r}")
    delay = d.get("delay", 15.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 600:
        raise FaultError(f"fault {kind}: delay must be seconds in [0, 600], got {delay!r}")
    mode = d.get("mode", "empty")
    if mode not in ("empty", "404"):
        raise FaultError(f"fault {kind}: mode must be 'empty' or '404', got {mode!r}")
    return FaultRule(kind=kind, probability=prob, count=count, path=path, retry_after=retry_after,
                     delay=float(delay), mode=mode)


def parse_fault_spec(spec: str) -> FaultRule:
    """CLI form ``KIND[:key=value,...]``, e.g. ``rate_limit:p=0.05,retry_after=3`` or ``http_503:count=5``."""
    kind, _, rest = spec.partition(":")
    d: dict[str, Any] = {"kind": kind.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        k, eq, v = part.partition("=")
        if not eq:
            raise FaultError(f"fault {spec!r}: expected key=value, got {part!r}")
        k = k.strip()
        v = v.strip()
        if k in ("p", "probability", "delay"):
            try:
                d[k] = float(v)
            except ValueError:
                raise FaultError(f"fault {spec!r}: {k} must be a number, got {v!r}") from None
        elif k in ("count", "retry_after"):
            try:
                d[k] = int(v)
            except ValueError:
                raise FaultError(f"fault {spec!r}: {k} must be an integer, got {v!r}") from None
        else:
            d[k] = v
    if "p" not in d and "probability" not in d and "count" not in d:
        d["probability"] = 1.0
    return rule_from_dict(d)


@dataclass
class FaultPlan:
    """Ordered rules (the first that fires wins) and the log of injected faults (bounded)."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100_000))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_rules(self, rules: list[FaultRule]) -> None:
        with self.lock:
            self.rules = list(rules)

    def add_rules(self, rules: list[FaultRule]) -> None:
        with self.lock:
            self.rules.extend(rules)

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {"seed": self.seed, "rules": [r.as_dict() for r in self.rules], "kinds": KINDS}

    def decide(self, request_no: int, path_kind: str, page: int) -> FaultRule | None:
        """The fault for provider request `request_no` (1-based), or None. Deterministic."""
        with self.lock:
            for pos, r in enumerate(self.rules):
                if not r.matches(path_kind, page):
                    continue
                if r.count is not None:
                    if r.fired >= r.count:
                        continue
                else:
                    u = mix64_int((self.seed * 0x9E3779B97F4A7C15 + pos * 0xD1B54A32D192ED03 + request_no)
                                  & 0xFFFFFFFFFFFFFFFF) / 2.0 ** 64
                    if not u < (r.probability or 0.0):
                        continue
                r.fired += 1
                return r
            return None

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)

    def injected(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.log)

