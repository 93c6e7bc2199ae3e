"""The tracking endpoint: clients POST alert events and goals; a 2xx means durably committed.

``create_app`` builds the FastAPI app; the collector service hosts it in-process with uvicorn and
hands it the service's Store (the single writer), so writes share the one read-write connection.
Status codes: 201 stored / 200 duplicate (single event, goal); batch 200 all valid, 207 some
invalid (the valid ones are committed), 400 none valid; 400 bad input (field + reason), 401 no
key, 403 wrong key, 413 too large, 415 not JSON, 503 + Retry-After when the writer is behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.clock import Clock
from collector.settings import Settings
from collector.store.writer import QueueFull, Store, StoreClosed
from collector.tracking import models as m
from collector.tracking.ingest import Coalescer, event_row, insert_goal_job

log = logging.getLogger(__name__)
RETRY_AFTER_S = "1"


class ApiError(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
        self.status, self.errors, self.headers = status, errors, headers or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # ensure_ascii: client-supplied field names may hold lone surrogates that UTF-8 cannot encode
    return Response(json.dumps(body, ensure_ascii=True, separators=(",", ":")), status_code=status,
                    headers=headers, media_type="application/json")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _err_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Invalid input: each problem with its index, field and reason", 401: "No write key",
            403: "Wrong write key", 413: "Body too large", 415: "Content-Type is not application/json",
            503: "Writer is behind or stopping; retry after Retry-After seconds"}
    return {c: {"description": text[c], "content": {"application/json": {"schema": m.ERRORS_SCHEMA}}}
            for c in codes}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def create_app(settings: Settings, store: Store, clock: Clock,
               health: Callable[[], dict[str, Any]] | None = None, *, coalesce: bool = True) -> FastAPI:
    """The tracking + health app. ``coalesce=False`` writes one store job per request (the bench's
    commit-per-request baseline when the Store runs with max_group=1)."""
    keys = {k.encode(): hashlib.sha256(k.encode()).hexdigest()[:12] for k in settings.write_keys}
    coalescer = Coalescer(store, settings.writer_queue_max, coalesce=coalesce)
    max_skew = float(settings.max_clock_skew_s)

    app = FastAPI(title="Tablepulse tracking", version="1",
                  description="Alert events and goals from clients. A 2xx answer means durably committed. "
                              "Authenticate with `Authorization: Bearer <write key>` (or `X-Write-Key`).")
    app.state.coalescer = coalescer
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Write-Key"],
                           expose_headers=["Retry-After"], max_age=600)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return json_response({"errors": exc.errors}, exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errs = [m.error(None, ".".join(str(p) for p in e.get("loc", ())[1:]) or "request", str(e.get("msg")))
                for e in exc.errors()]
        return json_response({"errors": errs}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return json_response({"detail": exc.detail, "errors": [m.error(None, "request", str(exc.detail))]},
                             exc.status_code, dict(exc.headers or {}))

    def authenticate(request: Request) -> str:
        auth = request.headers.get("authorization")
        given: str | None = None
        if auth is not None and auth.strip():
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, [m.error(None, "Authorization", "must be 'Bearer <write key>'")],
                               {"WWW-Authenticate": "Bearer"})
            given = token.strip()
        else:
            given = request.headers.get("x-write-key")
        if not given:
            raise ApiError(401, [m.error(None, "Authorization", "a write key is required")],
                           {"WWW-Authenticate": "Bearer"})
        g = given.encode("utf-8", "surrogateescape")
        for k, kid in keys.items():
            if hmac.compare_digest(g, k):
                return kid
        raise ApiError(403, [m.error(None, "Authorization", "write key is not valid")])

    async def read_json(request: Request, limit: int) -> Any:
        ctype = request.headers.get("content-type", "")
        if ctype.split(";", 1)[0].strip().lower() != "application/json":
            raise ApiError(415, [m.error(None, "Content-Type", "must be application/json")])
        cl = request.headers.get("content-length")
        if cl is not None:
            if not cl.isdigit():
                raise ApiError(400, [m.error(None, "Content-Length", "is not a number")])
            if int(cl) > limit:
                raise ApiError(413, [m.error(None, "body", f"must be at most {limit} bytes")])
        chunks, n = [], 0
        async for chunk in request.stream():
            n += len(chunk)
            if n > limit:
                raise ApiError(413, [m.error(None, "body", f"must be at most {limit} bytes")])
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw:
            raise ApiError(400, [m.error(None, "body", "is empty")])
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            raise ApiError(400, [m.error(None, "body", "is not valid UTF-8")]) from None
        except (ValueError, RecursionError) as e:
            raise ApiError(400, [m.error(None, "body", f"is not valid JSON: {str(e)[:200]}")]) from None

    async def write(rows: list[Any]) -> list[bool]:
        try:
            return await coalescer.submit(rows)
        except (QueueFull, StoreClosed) as e:
            reason = "the writer is behind" if isinstance(e, QueueFull) else "the service is stopping"
            raise ApiError(503, [m.error(None, "request", f"not stored: {reason}; retry")],
                           {"Retry-After": RETRY_AFTER_S}) from None

    @app.post("/v1/events", summary="Record one alert event", status_code=201,
              openapi_extra=_body_doc(m.EVENT_SCHEMA),
              responses={200: {"description": "Duplicate message_id: already stored, nothing written"},
                         **_err_responses(400, 401, 403, 413, 415, 503)})
    async def post_event(request: Request) -> Response:
        kid = authenticate(request)
        body = await read_json(request, m.MAX_EVENT_BYTES)
        ev, errs = m.validate_event(body)
        if ev is None:
            raise ApiError(400, errs)
        stored = (await write([event_row(ev, clock.now(), max_skew, kid)]))[0]
        return json_response({"message_id": ev.message_id, "status": "stored" if stored else "duplicate",
                              "duplicate": not stored}, 201 if stored else 200)

    @app.post("/v1/batch", summary="Record up to 500 alert events",
              openapi_extra=_body_doc(m.BATCH_SCHEMA),
              responses={207: {"description": "Some events invalid: the valid ones are committed; see results"},
                         **_err_responses(400, 401, 403, 413, 415, 503)})
    async def post_batch(request: Request) -> Response:
        """Per-item answer: `results[i].status` is stored, duplicate or invalid. 200 when every event
        is valid, 207 when some are invalid (every valid one is committed), 400 when none is."""
        kid = authenticate(request)
        body = await read_json(request, m.MAX_BATCH_BYTES)
        if not isinstance(body, dict):
            raise ApiError(400, [m.error(None, "body", "must be an object {\"events\": [...]}")])
        extra = [m.error(None, str(k)[:100], "is not a known field") for k in body if k != "events"]
        events = body.get("events")
        if not isinstance(events, list):
            raise ApiError(400, [m.error(None, "events", "is required and must be a list"), *extra])
        if extra:
            raise ApiError(400, extra)
        if not events:
            raise ApiError(400, [m.error(None, "events", "must contain at least one event")])
        if len(events) > m.MAX_BATCH_EVENTS:
            raise ApiError(413, [m.error(None, "events", f"at most {m.MAX_BATCH_EVENTS} events per batch")])
        received = clock.now()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        rows, row_index = [], []
        for i, item in enumerate(events):
            ev, errs = m.validate_event(item, i)
            if ev is None:
                errors += errs
                results.append({"index": i, "status": "invalid"})
                continue
            rows.append(event_row(ev, received, max_skew, kid))
            row_index.append(i)
            results.append({"index": i, "status": "pending", "message_id": ev.message_id})
        if not rows:
            raise ApiError(400, errors)
        stored = await write(rows)
        for i, ok in zip(row_index, stored, strict=True):
            results[i]["status"] = "stored" if ok else "duplicate"
        n_stored = sum(stored)
        out = {"stored": n_stored, "duplicates": len(rows) - n_stored, "invalid": len(events) - len(rows),
               "results": results, "errors": errors}
        return json_response(out, 207 if errors else 200)

    @app.post("/v1/goals", summary="Register a user's goal window", status_code=201,
              openapi_extra=_body_doc(m.GOAL_SCHEMA),
              responses={200: {"description": "Duplicate goal_id: already stored"},
                         **_err_responses(400, 401, 403, 413, 415, 503)})
    async def post_goal(request: Request) -> Response:
        authenticate(request)
        body = await read_json(request, m.MAX_EVENT_BYTES)
        goal, errs = m.validate_goal(body)
        if goal is None:
            raise ApiError(400, errs)
        try:
            fut = store.submit(insert_goal_job(goal, clock.now()))
            stored = await asyncio.wrap_future(fut)
        except (QueueFull, StoreClosed):
            raise ApiError(503, [m.error(None, "request", "not stored: the writer is busy; retry")],
                           {"Retry-After": RETRY_AFTER_S}) from None
        return json_response({"goal_id": goal.goal_id, "duplicate": not stored}, 201 if stored else 200)

    @app.get("/health", summary="Liveness and writer queue depth")
    async def get_health() -> Response:
        if health is not None:
            return json_response(health())
        return json_response({"ok": True, "writer_queue": store.pending(),
                              "tracking_pending": coalescer.pending()})

    return app
