"""Validation of tracking payloads (events, batches, goals) and their published JSON schemas.

Owned by the tracking endpoint (collector/tracking/app.py), which calls ``validate_event`` and
``validate_goal`` on parsed JSON. Validation is hand-written rather than a pydantic body model so
that every problem is reported as one ``{"index", "field", "reason"}`` entry (the 400 shape) and
the hot path stays cheap; the JSON schemas below document the same rules in the OpenAPI spec.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

EVENT_TYPES = ("alert_sent", "alert_opened", "tap_to_reserve", "booking_confirmed")
MAX_EVENT_BYTES = 64 * 1024          # one event / one goal request body
MAX_BATCH_BYTES = 500 * 1024         # one batch request body
MAX_BATCH_EVENTS = 500
MAX_METADATA_BYTES = 32 * 1024       # metadata serialized as compact JSON (UTF-8)
MAX_ID_LEN = 128
MAX_DROP_ID_LEN = 512
MAX_GOAL_LIST = 200
_MIN_TS = datetime(2000, 1, 1)
_MAX_TS = datetime(2100, 1, 1)
_INT64 = 2**63 - 1
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# the same as json.dumps(v, separators=(",", ":"), ensure_ascii=False, allow_nan=False), built once
_METADATA_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

EVENT_FIELDS = ("message_id", "alert_id", "user_id", "event_type", "occurred_at", "sent_at",
                "drop_event_id", "venue_id", "goal_match_score", "metadata")
REQUIRED_EVENT_FIELDS = EVENT_FIELDS[:6]
GOAL_FIELDS = ("goal_id", "user_id", "date_from", "date_to", "time_from", "time_to", "party_size",
               "neighborhoods", "venue_ids")
REQUIRED_GOAL_FIELDS = GOAL_FIELDS[:7]


def error(index: int | None, field: str, reason: str) -> dict[str, Any]:
    return {"index": index, "field": field, "reason": reason}


@dataclass(frozen=True, slots=True)
class CleanEvent:
    message_id: str
    alert_id: str
    user_id: str
    event_type: str
    occurred_at: datetime      # naive UTC, client clock
    sent_at: datetime          # naive UTC, client clock
    drop_event_id: str | None
    venue_id: int | None
    goal_match_score: float | None
    metadata: str | None       # compact JSON text


@dataclass(frozen=True, slots=True)
class CleanGoal:
    goal_id: str
    user_id: str
    date_from: date
    date_to: date
    time_from: time
    time_to: time
    party_size: int
    neighborhoods: list[str]
    venue_ids: list[int]


# -- field checkers: return (value, reason); reason None means valid ---------------------------------

def _uuid(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, str):
        return None, "must be a UUID string"
    if len(v) == 36 and _CANONICAL_UUID.fullmatch(v):  # already str(uuid.UUID(v)): skip the parse
        return v, None
    try:
        return str(uuid.UUID(v)), None
    except ValueError:
        return None, "is not a valid UUID"


def _ident(v: Any, max_len: int = MAX_ID_LEN) -> tuple[Any, str | None]:
    if not isinstance(v, str):
        return None, "must be a string"
    if not v.strip():
        return None, "must not be empty"
    if len(v) > max_len:
        return None, f"must be at most {max_len} characters"
    if "\x00" in v:
        return None, "must not contain NUL characters"
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return None, "contains an invalid unicode surrogate"
    return v, None


def _drop_id(v: Any) -> tuple[Any, str | None]:
    return _ident(v, MAX_DROP_ID_LEN)


def _venue_id(v: Any) -> tuple[Any, str | None]:
    return _int(v, 0, _INT64)


def _timestamp(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, str):
        return None, "must be an ISO 8601 timestamp string with a UTC offset"
    if len(v) > 40:
        return None, "is too long for an ISO 8601 timestamp"
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        return None, "is not an ISO 8601 timestamp (e.g. 2026-03-01T19:00:05.120Z)"
    if t.tzinfo is None or t.utcoffset() is None:
        return None, "needs a UTC offset (e.g. 'Z' or '+01:00')"
    try:
        t = t.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None, "is out of range"
    if not _MIN_TS <= t < _MAX_TS:
        return None, "must be between 2000-01-01 and 2100-01-01"
    return t, None


def _int(v: Any, lo: int, hi: int) -> tuple[Any, str | None]:
    if isinstance(v, bool) or not isinstance(v, int):
        return None, "must be an integer"
    if not lo <= v <= hi:
        return None, f"must be between {lo} and {hi}"
    return v, None


def _score(v: Any) -> tuple[Any, str | None]:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None, "must be a number between 0 and 1"
    f = float(v)
    if not math.isfinite(f) or not 0.0 <= f <= 1.0:
        return None, "must be a number between 0 and 1"
    return f, None


def _metadata(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, dict):
        return None, "must be a JSON object"
    try:
        text = _METADATA_JSON.encode(v)
    except (ValueError, RecursionError):
        return None, "must be plain JSON"
    if text.isascii():
        if len(text) > MAX_METADATA_BYTES:
            return None, f"must be at most {MAX_METADATA_BYTES} bytes as JSON"
        return text, None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_METADATA_BYTES:
        return None, f"must be at most {MAX_METADATA_BYTES} bytes as JSON"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None, "contains an invalid unicode surrogate"
    return text, None


def _date(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, str) or len(v) != 10:
        return None, "must be a date YYYY-MM-DD"
    try:
        return date.fromisoformat(v), None
    except ValueError:
        return None, "must be a date YYYY-MM-DD"


def _hhmm(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, str) or len(v) != 5 or v[2] != ":":
        return None, "must be a time HH:MM"
    try:
        return time.fromisoformat(v), None
    except ValueError:
        return None, "must be a time HH:MM"


def _check_fields(body: Any, index: int | None, allowed: tuple[str, ...], required: tuple[str, ...],
                  what: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [error(index, what, "must be a JSON object")]
    errs = [error(index, k, "is required") for k in required if body.get(k) is None]
    errs += [error(index, str(k)[:100], "is not a known field") for k in body if k not in allowed]
    return errs


_EVENT_FIELD_SET = frozenset(EVENT_FIELDS)
# checked in this order (errors are reported in it); event_type is checked after them
_EVENT_CHECKS: tuple[tuple[str, Any], ...] = (
    ("message_id", _uuid), ("alert_id", _ident), ("user_id", _ident),
    ("occurred_at", _timestamp), ("sent_at", _timestamp), ("drop_event_id", _drop_id),
    ("venue_id", _venue_id), ("goal_match_score", _score), ("metadata", _metadata),
)
_EVENT_TYPE_REASON = f"must be one of {', '.join(EVENT_TYPES)}"


def validate_event(body: Any, index: int | None = None) -> tuple[CleanEvent | None, list[dict[str, Any]]]:
    """A parsed JSON value -> (CleanEvent, []) or (None, [errors naming each bad field]).

    On the hot path (every event of every request): no per-call closures, a set for the field-name
    check, and the cheap canonical forms (lower-case UUID, ASCII text) recognised before the
    general parse."""
    if not isinstance(body, dict):
        return None, [error(index, "event", "must be a JSON object")]
    get = body.get
    errs = [error(index, k, "is required") for k in REQUIRED_EVENT_FIELDS if get(k) is None]
    if not _EVENT_FIELD_SET.issuperset(body):
        errs += [error(index, str(k)[:100], "is not a known field") for k in body if k not in _EVENT_FIELD_SET]
    vals: list[Any] = []
    for name, check in _EVENT_CHECKS:
        v = get(name)
        if v is None:
            vals.append(None)
            continue
        val, reason = check(v)
        if reason:
            errs.append(error(index, name, reason))
        vals.append(val)
    et = get("event_type")
    if et is not None and et not in EVENT_TYPES:
        errs.append(error(index, "event_type", _EVENT_TYPE_REASON))
    if errs:
        return None, errs
    message_id, alert_id, user_id, occurred_at, sent_at, drop_event_id, venue_id, score, metadata = vals
    if occurred_at > sent_at:
        return None, [error(index, "occurred_at", "is after sent_at (both are client clock)")]
    return CleanEvent(message_id, alert_id, user_id, body["event_type"], occurred_at, sent_at, drop_event_id, venue_id, score,
                      metadata), []


def validate_goal(body: Any) -> tuple[CleanGoal | None, list[dict[str, Any]]]:
    errs = _check_fields(body, None, GOAL_FIELDS, REQUIRED_GOAL_FIELDS, "goal")
    if not isinstance(body, dict):
        return None, errs
    out: dict[str, Any] = {}
    checks: list[tuple[str, Any]] = [
        ("goal_id", _uuid), ("user_id", _ident), ("date_from", _date), ("date_to", _date),
        ("time_from", _hhmm), ("time_to", _hhmm), ("party_size", lambda v: _int(v, 1, 20)),
    ]
    for name, check in checks:
        v = body.get(name)
        if v is None:
            continue
        val, reason = check(v)
        if reason:
            errs.append(error(None, name, reason))
        out[name] = val
    for name, item_check in (("neighborhoods", _ident), ("venue_ids", lambda v: _int(v, 0, _INT64))):
        v = body.get(name)
        if v is None:
            out[name] = []
            continue
        if not isinstance(v, list) or len(v) > MAX_GOAL_LIST:
            errs.append(error(None, name, f"must be a list of at most {MAX_GOAL_LIST} items"))
            continue
        items = []
        for i, item in enumerate(v):
            val, reason = item_check(item)
            if reason:
                errs.append(error(None, f"{name}[{i}]", reason))
                break
            items.append(val)
        out[name] = items
    if not errs:
        if out["date_from"] > out["date_to"]:
            errs.append(error(None, "date_to", "is before date_from"))
        if out["time_from"] > out["time_to"]:
            errs.append(error(None, "time_to", "is before time_from"))
    if errs:
        return None, errs
    return CleanGoal(**out), []


# -- JSON schemas for the OpenAPI document (the same rules as above) ---------------------------------

_TS = {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset"}
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": list(REQUIRED_EVENT_FIELDS),
    "properties": {
        "message_id": {"type": "string", "format": "uuid",
                       "description": "Client-generated; a retry with the same id is stored once, forever."},
        "alert_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN},
        "user_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN},
        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
        "occurred_at": {**_TS, "description": "When it happened, client clock; not after sent_at."},
        "sent_at": {**_TS, "description": "When the client sent this request, client clock."},
        "drop_event_id": {"type": ["string", "null"], "maxLength": MAX_DROP_ID_LEN,
                          "description": "The drop's interval_id or its NEW_DROP event_id."},
        "venue_id": {"type": ["integer", "null"], "minimum": 0},
        "goal_match_score": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "metadata": {"type": ["object", "null"], "description": f"At most {MAX_METADATA_BYTES} bytes as JSON."},
    },
}
BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["events"],
    "properties": {"events": {"type": "array", "maxItems": MAX_BATCH_EVENTS, "items": EVENT_SCHEMA}},
}
GOAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": list(REQUIRED_GOAL_FIELDS),
    "properties": {
        "goal_id": {"type": "string", "format": "uuid", "description": "Client-generated; retries are no-ops."},
        "user_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN},
        "date_from": {"type": "string", "format": "date"},
        "date_to": {"type": "string", "format": "date", "description": "Inclusive."},
        "time_from": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "time_to": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "Inclusive."},
        "party_size": {"type": "integer", "minimum": 1, "maximum": 20},
        "neighborhoods": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_GOAL_LIST,
                          "description": "Empty or absent: any neighborhood."},
        "venue_ids": {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": MAX_GOAL_LIST,
                      "description": "Empty or absent: any venue."},
    },
}
ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"errors": {"type": "array", "items": {
        "type": "object",
        "properties": {"index": {"type": ["integer", "null"]}, "field": {"type": "string"},
                       "reason": {"type": "string"}}}}},
}
