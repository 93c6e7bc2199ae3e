"""The diff: a pure function (prev open state, current poll, baseline) -> transitions.

No I/O and no clock: the poller hands it the poll instants and two predicates (is this slot past
its booking cut-off; is this opening a release). Rules are DESIGN.md's "Transitions": only a
trusted poll moves state; a slot leaving because its time passed is an expiry, never a CLOSED.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import filterfalse
from typing import Literal

import msgspec

from collector.providers.base import SlotKey

Kind = Literal["BASELINE_AVAILABLE", "NEW_DROP", "CLOSED", "EXPIRED"]
Source = Literal["baseline", "reopen", "drop", "resumed"]


class OpenState(msgspec.Struct, frozen=True, gc=False):
    """A slot open as of the last trusted poll (a row of open_slots). Its last sighting is that poll
    (prev_poll_at in diff(), buckets.last_trusted_at in the file), so it is not stored per slot.

    A frozen msgspec Struct with gc=False: the service holds one per open slot of every bucket
    (~12k per bucket at 5,000 venues), which the cyclic collector then never has to walk."""

    interval_id: str
    source: Source
    opened_lo: datetime | None   # start of the last trusted poll without it (None: seen in calibration)
    opened_hi: datetime          # when the page that first showed it arrived (it was open by then)
    is_release: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    kind: Kind
    key: SlotKey
    interval_id: str
    observed_at: datetime         # the poll that saw it
    prev_poll_at: datetime | None
    duration_s: float | None = None
    is_release: bool = False


@dataclass(frozen=True, slots=True)
class EndedInterval:
    key: SlotKey
    state: OpenState
    closed_lo: datetime           # start of the last trusted poll with it
    closed_hi: datetime | None    # end of the first trusted poll without it (None: censored, end unknown)
    end_reason: Literal["closed", "expired", "censored"]

    @property
    def duration_s(self) -> float | None:
        """Seed definition: first-absent minus first-seen, each the upper bound of its instant
        (closed_hi - opened_hi; None when censored)."""
        return None if self.closed_hi is None else (self.closed_hi - self.state.opened_hi).total_seconds()


@dataclass
class DiffResult:
    transitions: list[Transition] = field(default_factory=list)
    opened: dict[SlotKey, OpenState] = field(default_factory=dict)
    ended: list[EndedInterval] = field(default_factory=list)

    def count(self, kind: Kind) -> int:
        return sum(1 for t in self.transitions if t.kind == kind)


def interval_id(key: SlotKey, opened_hi: datetime) -> str:
    return (f"{key.provider}|{key.venue_id}|{key.slot_date.isoformat()}|{key.slot_time.isoformat()}|"
            f"{key.party_size}|{key.table_type}|{opened_hi.isoformat()}")


def diff(prev: Mapping[SlotKey, OpenState], curr: Collection[SlotKey], baseline: Collection[SlotKey], *,
         trusted: bool, poll_at: datetime, prev_poll_at: datetime | None, calibrating: bool,
         expired: Callable[[SlotKey], bool] = lambda k: False,
         is_release: Callable[[SlotKey], bool] = lambda k: False,
         max_gap_s: float | None = None, new: Collection[SlotKey] | None = None,
         gone: list[SlotKey] | None = None, poll_end: datetime | None = None,
         seen_at: Mapping[SlotKey, datetime] | None = None) -> DiffResult:
    """Transitions between the last trusted poll (prev) and this one (curr).

    - calibrating: every slot newly seen joins the baseline (BASELINE_AVAILABLE, left-censored);
    - live: in curr, not in prev, not in baseline -> NEW_DROP; in baseline -> a 'reopen' interval
      (tracked so its close has bounds, but not a drop);
    - in prev, not in curr: EXPIRED if the slot is past its cut-off, else CLOSED with duration
      closed_hi - opened_hi and both bounds kept;
    - in prev and in curr across a gap longer than max_gap_s (outage, service down, unpolled
      hours): nobody saw whether it stayed open, so the interval ends 'censored' at its last
      sighting and a 'resumed' interval with an unknown opening starts (no event: not a transition);
      a slot first seen after such a gap is 'resumed' too, never a NEW_DROP (nobody saw it open).
    Bounds (DESIGN: bounds hold the truth): poll_at is the poll's start (before its first request),
    poll_end its end (after its last answer; poll_at when not given), seen_at[key] the arrival of the
    page that showed a new key (poll_end when absent). A slot seen was open before its page arrived
    (opened_hi); a slot absent was closed by the poll's end (closed_hi); lower bounds are starts of
    the polls before (prev_poll_at), which came before any instant those polls saw.
    An untrusted poll returns an empty result: it moves nothing.
    `new` (curr's keys not in prev, in curr's order) and `gone` (prev's keys not in curr, in prev's
    order) may be handed in when the caller already has them; they are computed otherwise.
    """
    out = DiffResult()
    if not trusted:
        return out
    end = poll_end or poll_at
    seen = seen_at.get if seen_at is not None else (lambda k, d: d)
    curr_set = curr if isinstance(curr, set | frozenset | dict) else set(curr)
    gap = (max_gap_s is not None and prev_poll_at is not None
           and (poll_at - prev_poll_at).total_seconds() > max_gap_s)
    in_prev = prev.__contains__
    if gap:   # every slot seen before and now crossed the gap: censor it and resume it
        for key in filter(in_prev, curr_set):
            st0 = prev[key]
            out.ended.append(EndedInterval(key, st0, prev_poll_at or st0.opened_hi, None, "censored"))
            out.opened[key] = OpenState(interval_id(key, poll_at), "resumed", None, end)
    # filterfalse with a bound __contains__ walks ~12k keys per poll in C, in curr's order
    if new is None:
        new = list(filterfalse(in_prev, curr_set))
    for key in new:
        iid = interval_id(key, poll_at)
        hi = seen(key, end)
        if gap and not calibrating:
            # first seen after an unobserved stretch: nobody saw it open, so it is neither a drop
            # nor an alert; tracked with an unknown opening (left-censored), like a baseline slot
            out.opened[key] = OpenState(iid, "resumed", None, hi)
            continue
        if calibrating:
            st = OpenState(iid, "baseline", None, hi)
            kind: Kind = "BASELINE_AVAILABLE"
        elif key in baseline:
            st = OpenState(iid, "reopen", prev_poll_at, hi)
            kind = "BASELINE_AVAILABLE"
        else:
            rel = is_release(key)
            st = OpenState(iid, "drop", prev_poll_at, hi, rel)
            kind = "NEW_DROP"
        out.opened[key] = st
        out.transitions.append(Transition(kind, key, iid, poll_at, prev_poll_at, None, st.is_release))
    for key in filterfalse(curr_set.__contains__, prev) if gone is None else gone:
        st = prev[key]
        reason: Literal["closed", "expired"] = "expired" if expired(key) else "closed"
        ended = EndedInterval(key, st, prev_poll_at or st.opened_hi, end, reason)
        out.ended.append(ended)
        out.transitions.append(Transition(
            "CLOSED" if reason == "closed" else "EXPIRED", key, st.interval_id, poll_at, prev_poll_at,
            ended.duration_s if reason == "closed" else None, st.is_release))
    return out
