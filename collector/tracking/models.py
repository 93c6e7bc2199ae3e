"""The tracking payloads, each rule stated once: these pydantic models validate a request, give the
OpenAPI schema (app.py publishes ``model_json_schema()``) and name what is wrong (``errors``).

Owned by the tracking endpoint (app.py). A request body is parsed by ``parse_json`` and validated
as an ``Event``, a ``Batch`` (each event answered on its own) or a ``Goal``. Every problem becomes
one ``{"index", "field", "reason"}`` entry of a 400 answer.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from tablepulse_settings import parse_hhmm

MAX_EVENT_BYTES = 64 * 1024          # one event / one goal request body
MAX_BATCH_BYTES = 500 * 1024         # one batch request body
MAX_BATCH_EVENTS = 500
MAX_METADATA_BYTES = 32 * 1024       # metadata as compact JSON (UTF-8)
MAX_ID_LEN = 128
MAX_DROP_ID_LEN = 512
MAX_GOAL_LIST = 200
INT64_MAX = 2**63 - 1
EventType = Literal["alert_sent", "alert_opened", "tap_to_reserve", "booking_confirmed"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
_MIN_TS, _MAX_TS = datetime(2000, 1, 1), datetime(2100, 1, 1)


def error(index: int | None, field: str, reason: str) -> dict[str, Any]:
    return {"index": index, "field": field, "reason": reason}


# -- field rules pydantic's own constraints do not express -------------------------------------------

def _text(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    if "\x00" in v:
        raise ValueError("must not contain NUL characters")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an invalid unicode surrogate") from None
    return v


def _utc(v: Any) -> datetime:
    """An ISO 8601 text with a UTC offset -> naive UTC datetime (what the tables store)."""
    if not isinstance(v, str):
        raise ValueError("must be an ISO 8601 timestamp string with a UTC offset")
    if len(v) > 40:
        raise ValueError("is too long for an ISO 8601 timestamp")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError("is not an ISO 8601 timestamp (e.g. 2026-03-01T19:00:05.120Z)") from None
    if t.utcoffset() is None:
        raise ValueError("needs a UTC offset (e.g. 'Z' or '+01:00')")
    try:
        t = t.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise ValueError("is out of range") from None
    if not _MIN_TS <= t < _MAX_TS:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return t


def _metadata(v: Any) -> Any:
    """A JSON object -> its compact JSON text (stored as it is), at most MAX_METADATA_BYTES."""
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValueError("must be a JSON object")
    try:
        text = _METADATA_ENCODER.encode(v)
        size = len(text.encode("utf-8"))
    except (ValueError, RecursionError):
        raise ValueError("must be plain JSON") from None
    except UnicodeEncodeError:
        raise ValueError("contains an invalid unicode surrogate") from None
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return text


def _day(v: Any) -> date:
    if not isinstance(v, str) or len(v) != 10:
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None


def _hhmm(v: Any) -> time:
    try:
        return time(*parse_hhmm(v))
    except ValueError:
        raise ValueError("must be a time HH:MM") from None


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LEN), AfterValidator(_text)]
VenueId = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
DropId = Annotated[str, Field(min_length=1, max_length=MAX_DROP_ID_LEN), AfterValidator(_text)]
Timestamp = Annotated[datetime, BeforeValidator(_utc),
                      WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40,
                                      "description": "ISO 8601 with a UTC offset"})]
Metadata = Annotated[str | None, BeforeValidator(_metadata),
                     WithJsonSchema({"type": ["object", "null"],
                                     "description": f"At most {MAX_METADATA_BYTES} bytes as JSON."})]
Day = Annotated[date, BeforeValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]
HhMm = Annotated[time, BeforeValidator(_hhmm),
                 WithJsonSchema({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"})]


class Event(BaseModel):
    """One alert event from a client."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # sent_at before occurred_at: fields validate in order, so the order rule (occurred_at not
    # after sent_at) is checked, and reported, on occurred_at

    message_id: uuid.UUID = Field(description="Client-generated; a retry with the same id is stored once, forever.")
    alert_id: Id
    user_id: Id
    event_type: EventType
    sent_at: Timestamp = Field(description="When the client sent this request, client clock.")
    occurred_at: Timestamp = Field(description="When it happened, client clock; not after sent_at.")
    drop_event_id: DropId | None = Field(None, description="The drop's interval_id or its NEW_DROP event_id.")
    venue_id: VenueId | None = None
    goal_match_score: Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)] | None = None
    metadata: Metadata = None

    @field_validator("occurred_at")
    @classmethod
    def _not_after_sent(cls, v: datetime, info: ValidationInfo) -> datetime:
        sent = info.data.get("sent_at")
        if sent is not None and v > sent:
            raise ValueError("is after sent_at (both are client clock)")
        return v


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class Goal(BaseModel):
    """A user's goal window (seeds: goal-based monitoring); both ends inclusive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    goal_id: uuid.UUID = Field(description="Client-generated; retries are no-ops.")
    user_id: Id
    date_from: Day
    date_to: Day
    time_from: HhMm
    time_to: HhMm
    party_size: Annotated[int, Field(strict=True, ge=1, le=20)]
    neighborhoods: list[Id] = Field([], max_length=MAX_GOAL_LIST, description="Empty or absent: any neighborhood.")
    venue_ids: list[VenueId] = Field(
        [], max_length=MAX_GOAL_LIST, description="Empty or absent: any venue.")

    @field_validator("date_to", "time_to")
    @classmethod
    def _not_before_start(cls, v: date | time, info: ValidationInfo) -> date | time:
        start = str(info.field_name).replace("_to", "_from")
        if start in info.data and v < info.data[start]:
            raise ValueError(f"is before {start}")
        return v


ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"errors": {"type": "array", "items": {
        "type": "object",
        "properties": {"index": {"type": ["integer", "null"]}, "field": {"type": "string"},
                       "reason": {"type": "string"}}}}},
}


# -- errors -----------------------------------------------------------------------------------------

def _reason(e: Any) -> str:
    """pydantic's message, in the API's words where it has its own."""
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    return str(e["msg"])


def errors(exc: ValidationError, index: int | None = None) -> list[dict[str, Any]]:
    """A ValidationError as API errors; ``index`` is the event's index in a batch."""
    out = []
    for e in exc.errors(include_url=False):
        loc = [str(p) for p in e["loc"]]
        field = (loc[-1] if e["type"] == "extra_forbidden" else ".".join(loc))[:100]
        out.append(error(index, field or "event", _reason(e)))
    return out


def parse_json(raw: bytes) -> Any:
    """A body -> its JSON value; ValueError says what is wrong (NaN and Infinity are not JSON)."""
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("is not valid UTF-8") from None
    except (ValueError, RecursionError) as e:
        raise ValueError(f"is not valid JSON: {str(e)[:200]}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# built once (json.loads / json.dumps with options build a decoder / an encoder on every call)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_METADATA_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def validate_event(body: Any, index: int | None = None) -> tuple[Event | None, list[dict[str, Any]]]:
    try:
        return Event.model_validate(body), []
    except ValidationError as e:
        return None, errors(e, index)


def validate_batch(body: Any) -> tuple[list[tuple[int, Event]], list[dict[str, Any]], int]:
    """A batch body -> ((index, event) for the valid events, errors of the others, events sent).
    Raises ValidationError when the envelope itself is wrong (not {"events": [1..500 items]})."""
    try:
        return list(enumerate(Batch.model_validate(body).events)), [], len(body["events"])
    except ValidationError as e:
        if any(len(x["loc"]) < 2 or x["loc"][0] != "events" for x in e.errors()):
            raise
    items: list[Any] = body["events"]
    valid, errs = [], []
    for i, item in enumerate(items):  # only when some event is invalid: answer each on its own
        ev, item_errs = validate_event(item, i)
        if ev is None:
            errs += item_errs
        else:
            valid.append((i, ev))
    return valid, errs, len(items)


def validate_goal(body: Any) -> tuple[Goal | None, list[dict[str, Any]]]:
    try:
        return Goal.model_validate(body), []
    except ValidationError as e:
        return None, errors(e)
