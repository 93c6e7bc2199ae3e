"""Validation of tracking payloads (events, batches, goals) and their published JSON schemas.

Owned by the tracking endpoint (collector/tracking/app.py), which calls ``validate_event`` and
``validate_goal`` on parsed JSON. Validation is hand-written rather than a pydantic body model so
that every problem is reported as one ``{"index", "field", "reason"}`` entry (the 400 shape) and
the hot path stays cheap; the JSON schemas below document the same rules in the OpenAPI spec.
Batches first go through ``check_batch``: msgspec decodes the whole body into typed Structs in C
and only the rules it cannot express run in Python; any item it does not accept is validated by
``validate_event`` as before, so every answer (and every error message) stays that of the careful
path.
"""

from __future__ import annotations

import json
import json.encoder
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from json.encoder import encode_basestring
from typing import Annotated, Any, Literal, get_args

import msgspec
import orjson

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
_CANONICAL_UUIDS = re.compile(f"(?:{_CANONICAL_UUID.pattern})*")  # 36-character ids, concatenated
# the same as json.dumps(v, separators=(",", ":"), ensure_ascii=False, allow_nan=False), built once
_METADATA_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# ... and the C encoder that JSONEncoder.encode builds on every call, built once here (no circular
# check: decoded JSON has no cycles; too deep a value still raises RecursionError): same text, half
# the cost per event
_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # CPython's _json (not in typeshed)
_METADATA_C = (None if _C_MAKE_ENCODER is None else
               _C_MAKE_ENCODER(None, _METADATA_JSON.default, encode_basestring, None, ":", ",", False, False, False))


def _encode_metadata(v: dict[str, Any]) -> str:
    if _METADATA_C is None:
        return _METADATA_JSON.encode(v)
    return "".join(_METADATA_C(v, 0))

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
        text = _encode_metadata(v)
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


_FLOAT_TOKEN = re.compile(rb"[0-9][.eE]")


def _typed_metadata(v: dict[str, Any]) -> tuple[Any, str | None]:
    """``_metadata`` for a dict that msgspec decoded (so no NaN or infinity can be in it), the same
    text: orjson writes strings, integers, true/false/null, objects and arrays exactly as
    json.dumps(separators=(",", ":"), ensure_ascii=False) does, but some floats differently (1e-7
    for 1e-07); anything that may hold a float, and anything orjson refuses (integers beyond 64
    bits, too deep), takes ``_metadata``."""
    try:
        raw = orjson.dumps(v)
    except TypeError:  # orjson.JSONEncodeError
        return _metadata(v)
    if _FLOAT_TOKEN.search(raw):
        return _metadata(v)
    if len(raw) > MAX_METADATA_BYTES:
        return None, f"must be at most {MAX_METADATA_BYTES} bytes as JSON"
    return raw.decode(), None


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


# -- batches: typed decode in C, careful validation only for the items it does not accept ----------

# One valid event as a tuple in CleanEvent's field order (what a batch's columns are made of), with
# occurred_at and sent_at as integer microseconds since 1970-01-01 (naive UTC, client clock).
EventTuple = tuple[str, str, str, str, int, int, "str | None", "int | None", "float | None", "str | None"]
EPOCH = datetime(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LEN)]
_Ts = Annotated[str, msgspec.Meta(max_length=40)]
_EventType = Literal["alert_sent", "alert_opened", "tap_to_reserve", "booking_confirmed"]


class _TypedEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """What msgspec accepts is a subset of what validate_event accepts: canonical lower-case UUIDs
    only, timestamps left as text (parsed by _timestamp, the careful rule: msgspec would round
    extra fraction digits where fromisoformat truncates), no NaN, no lone surrogates. The rules it
    cannot express (blank or NUL identifiers, timestamp range and order, metadata size) are checked
    in ``_typed_items``. Anything else it rejects is validated item by item by validate_event."""
    message_id: Annotated[str, msgspec.Meta(min_length=36, max_length=36)]  # canonical: see _typed_items
    alert_id: _Id
    user_id: _Id
    event_type: _EventType
    occurred_at: _Ts
    sent_at: _Ts
    drop_event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DROP_ID_LEN)] | None = None
    venue_id: Annotated[int, msgspec.Meta(ge=0, le=_INT64)] | None = None
    goal_match_score: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    metadata: dict[str, Any] | None = None


class _TypedBatch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    events: Annotated[list[_TypedEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH_EVENTS)]


class _RawBatch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    events: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=MAX_BATCH_EVENTS)]


if _TypedEvent.__struct_fields__ != EVENT_FIELDS or get_args(_EventType) != EVENT_TYPES:
    raise RuntimeError("_TypedEvent no longer matches EVENT_FIELDS / EVENT_TYPES")
_TYPED_BATCH = msgspec.json.Decoder(_TypedBatch)
_RAW_BATCH = msgspec.json.Decoder(_RawBatch)
_TYPED_EVENT = msgspec.json.Decoder(_TypedEvent)


@dataclass(slots=True)
class BatchCheck:
    """A batch body validated: ``valid`` (request index, event) in index order and ``errors``
    (validate_event's, in index order) for the rest; ``size`` events in the request."""
    size: int
    valid: list[tuple[int, EventTuple]]
    errors: list[dict[str, Any]]


def _event_tuple(ev: CleanEvent) -> EventTuple:
    return (ev.message_id, ev.alert_id, ev.user_id, ev.event_type, (ev.occurred_at - EPOCH) // MICROSECOND,
            (ev.sent_at - EPOCH) // MICROSECOND, ev.drop_event_id, ev.venue_id, ev.goal_match_score, ev.metadata)


def _micros(text: str) -> int | None:
    t = _timestamp(text)[0]
    return None if t is None else (t - EPOCH) // MICROSECOND


def _typed_items(items: list[tuple[int, _TypedEvent]]) -> tuple[list[tuple[int, EventTuple]], list[int]]:
    """The rules msgspec cannot express, on typed items: (index, event) for those that pass, and the
    indexes of those that do not (for validate_event, which names the problem). Each distinct
    timestamp text is parsed once per batch (a batch's sent_at is usually one value)."""
    ok: list[tuple[int, EventTuple]] = []
    bad: list[int] = []
    times: dict[str, int | None] = {}
    # message_ids are 36 characters (msgspec checked): one regex over all of them instead of one each
    each_id = not _CANONICAL_UUIDS.fullmatch("".join([e.message_id for _, e in items]))
    for i, e in items:
        a, u, d = e.alert_id, e.user_id, e.drop_event_id
        if each_id and not _CANONICAL_UUID.fullmatch(e.message_id):
            bad.append(i)
            continue
        if not a.strip() or not u.strip() or "\x00" in a or "\x00" in u or (
                d is not None and (not d.strip() or "\x00" in d)):
            bad.append(i)
            continue
        occ_text, sent_text = e.occurred_at, e.sent_at
        occ = times[occ_text] if occ_text in times else times.setdefault(occ_text, _micros(occ_text))
        sent = times[sent_text] if sent_text in times else times.setdefault(sent_text, _micros(sent_text))
        if occ is None or sent is None or occ > sent:
            bad.append(i)
            continue
        meta = e.metadata
        if meta is not None:
            meta, reason = _typed_metadata(meta)
            if reason:
                bad.append(i)
                continue
        ok.append((i, (e.message_id, a, u, e.event_type, occ, sent, d, e.venue_id, e.goal_match_score, meta)))
    return ok, bad


def check_batch(raw: bytes, loads: Callable[[bytes], Any]) -> BatchCheck | None:
    """A batch request body -> BatchCheck, with the answers validate_event gives item by item; None
    when the body is not an object {"events": [1..MAX_BATCH_EVENTS values]} as msgspec reads it (or
    an item is not JSON that ``loads``, the endpoint's parser, accepts): the caller then parses the
    whole body the general way, which names the problem.

    Common case: one typed decode of the whole body in C. If some item does not decode, the body is
    split into raw items, each decoded on its own, and only the items that fail go to ``loads`` +
    validate_event."""
    raws: list[msgspec.Raw] | None = None
    careful: list[tuple[int, msgspec.Raw]] = []
    try:
        items: list[tuple[int, _TypedEvent]] = list(enumerate(_TYPED_BATCH.decode(raw).events))
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        try:
            raws = _RAW_BATCH.decode(raw).events
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None
        items = []
        for i, r in enumerate(raws):
            try:
                items.append((i, _TYPED_EVENT.decode(r)))
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                careful.append((i, r))
    valid, bad = _typed_items(items)
    if not bad and not careful:
        return BatchCheck(len(items), valid, [])
    if raws is None:
        raws = _RAW_BATCH.decode(raw).events
    careful += [(i, raws[i]) for i in bad]
    careful.sort(key=lambda c: c[0])
    errors: list[dict[str, Any]] = []
    for i, r in careful:
        try:
            item = loads(bytes(r))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        ev, errs = validate_event(item, i)
        if ev is None:
            errors += errs
        else:
            valid.append((i, _event_tuple(ev)))
    valid.sort(key=lambda v: v[0])
    return BatchCheck(len(raws), valid, errors)


def check_items(events: list[Any]) -> BatchCheck:
    """Parsed batch items validated one by one by validate_event (bodies check_batch cannot read)."""
    valid: list[tuple[int, EventTuple]] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(events):
        ev, errs = validate_event(item, i)
        if ev is None:
            errors += errs
        else:
            valid.append((i, _event_tuple(ev)))
    return BatchCheck(len(events), valid, errors)


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
