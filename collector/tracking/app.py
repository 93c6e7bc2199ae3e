"""The tracking endpoint: clients POST alert events and goals; a 2xx means durably committed.

``create_app`` builds the FastAPI app (OpenAPI, CORS, goals, health) behind ``FastPath``, which
serves POST /v1/events and /v1/batch from non-browser clients with the same handlers and no
framework layers. The collector service hosts it in-process with uvicorn and hands it the
service's Store (the single writer), so writes share the one read-write connection.
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
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from collector.clock import Clock
from collector.settings import Settings
from collector.store.writer import QueueFull, Store, StoreClosed
from collector.tracking import models as m
from collector.tracking.ingest import Coalescer, EventBatch, event_batch, event_row, insert_goal_job

log = logging.getLogger(__name__)
RETRY_AFTER_S = "1"


class ApiError(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
        self.status, self.errors, self.headers = status, errors, headers or {}


# ensure_ascii: client-supplied field names may hold lone surrogates that UTF-8 cannot encode
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
Headers = Mapping[str, str]  # lower-case names; the first value of a repeated header
Answer = tuple[int, Any, "dict[str, str] | None"]  # status, JSON body, extra headers
Handler = Callable[[Headers, AsyncIterator[bytes]], Awaitable[Answer]]


# Numbers of 20+ digits may exceed 64 bits, which orjson would turn into floats: those bodies (and
# anything orjson rejects) take the standard parser, so the answers are those of json.loads.
_LONG_NUMBER = re.compile(rb"[0-9]{20}")


def _loads(raw: bytes) -> Any:
    if not _LONG_NUMBER.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


def _dumps(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError: e.g. a lone surrogate in a client-supplied field name
        return _ENCODER.encode(body).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(body), status_code=status, headers=headers, media_type="application/json")


_FAST_HEADERS = frozenset((b"authorization", b"x-write-key", b"content-type", b"content-length", b"origin"))


async def _receive_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        msg = await receive()
        if msg["type"] == "http.request":
            chunk = msg.get("body", b"")
            if chunk:
                yield chunk
            if not msg.get("more_body", False):
                return
        elif msg["type"] == "http.disconnect":
            raise ClientDisconnect()


class FastPath:
    """The ASGI app ``create_app`` returns: POST /v1/events and /v1/batch without an Origin header
    (apps, servers: the bulk of the traffic) go straight from the server to the ingest handlers,
    skipping the FastAPI/Starlette middleware, routing and exception layers (several times the
    handler's own cost per single event). Everything else -- browsers (CORS), goals, health, the
    OpenAPI document and docs, lifespan -- goes to the FastAPI app, whose /v1 routes call the very
    same handlers, so the answers do not depend on the path taken."""

    def __init__(self, app: FastAPI, routes: dict[str, Handler]) -> None:
        self.app = app
        self.routes = routes
        self.state = app.state
        self.served = 0  # requests answered by the fast path (tests check that it is taken)

    def openapi(self) -> dict[str, Any]:
        return self.app.openapi()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            handler = self.routes.get(path)
            if handler is not None:
                headers: dict[str, str] = {}
                for k, v in scope["headers"]:
                    k = k.lower()
                    if k in _FAST_HEADERS:
                        headers.setdefault(k.decode("latin-1"), v.decode("latin-1"))
                if "origin" not in headers:  # browsers take the FastAPI route (CORS middleware)
                    await self._serve(handler, headers, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, handler: Handler, headers: Headers, receive: Receive, send: Send) -> None:
        self.served += 1
        try:
            status, body, extra = await handler(headers, _receive_chunks(receive))
        except ClientDisconnect:
            return
        except Exception:
            log.exception("tracking request failed")
            status, body, extra = 500, {"errors": [m.error(None, "request", "internal error; retry")]}, None
        data = _dumps(body)
        raw = [(b"content-length", str(len(data)).encode()), (b"content-type", b"application/json")]
        if extra:
            raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})


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
               health: Callable[[], dict[str, Any]] | None = None, *, coalesce: bool = True) -> FastPath:
    """The tracking + health app (FastAPI behind the FastPath). ``coalesce=False`` writes one store
    job per request (the bench's commit-per-request baseline when the Store runs with max_group=1)."""
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

    def authenticate(headers: Headers) -> str:
        auth = headers.get("authorization")
        given: str | None = None
        if auth is not None and auth.strip():
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, [m.error(None, "Authorization", "must be 'Bearer <write key>'")],
                               {"WWW-Authenticate": "Bearer"})
            given = token.strip()
        else:
            given = headers.get("x-write-key")
        if not given:
            raise ApiError(401, [m.error(None, "Authorization", "a write key is required")],
                           {"WWW-Authenticate": "Bearer"})
        g = given.encode("utf-8", "surrogateescape")
        for k, kid in keys.items():
            if hmac.compare_digest(g, k):
                return kid
        raise ApiError(403, [m.error(None, "Authorization", "write key is not valid")])

    async def read_body(headers: Headers, chunks: AsyncIterator[bytes], limit: int) -> bytes:
        ctype = headers.get("content-type", "")
        if ctype.split(";", 1)[0].strip().lower() != "application/json":
            raise ApiError(415, [m.error(None, "Content-Type", "must be application/json")])
        cl = headers.get("content-length")
        if cl is not None:
            if not cl.isdigit():
                raise ApiError(400, [m.error(None, "Content-Length", "is not a number")])
            if int(cl) > limit:
                raise ApiError(413, [m.error(None, "body", f"must be at most {limit} bytes")])
        parts, n = [], 0
        async for chunk in chunks:
            n += len(chunk)
            if n > limit:
                raise ApiError(413, [m.error(None, "body", f"must be at most {limit} bytes")])
            parts.append(chunk)
        raw = parts[0] if len(parts) == 1 else b"".join(parts)
        if not raw:
            raise ApiError(400, [m.error(None, "body", "is empty")])
        return raw

    def parse_json(raw: bytes) -> Any:
        try:
            return _loads(raw)
        except UnicodeDecodeError:
            raise ApiError(400, [m.error(None, "body", "is not valid UTF-8")]) from None
        except (ValueError, RecursionError) as e:
            raise ApiError(400, [m.error(None, "body", f"is not valid JSON: {str(e)[:200]}")]) from None

    async def read_json(headers: Headers, chunks: AsyncIterator[bytes], limit: int) -> Any:
        return parse_json(await read_body(headers, chunks, limit))

    async def write(rows: list[Any] | EventBatch) -> list[bool]:
        try:
            return await coalescer.submit(rows)
        except (QueueFull, StoreClosed) as e:
            reason = "the writer is behind" if isinstance(e, QueueFull) else "the service is stopping"
            raise ApiError(503, [m.error(None, "request", f"not stored: {reason}; retry")],
                           {"Retry-After": RETRY_AFTER_S}) from None

    def check_body(raw: bytes) -> m.BatchCheck:
        """The batch body's events validated: typed decode first (m.check_batch); a body it cannot
        read is parsed in full here, so that the problem is named as before."""
        check = m.check_batch(raw, _loads)
        if check is not None:
            return check
        body = parse_json(raw)
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
        return m.check_items(events)

    # The two ingest handlers are framework-free: headers + body chunks in, (status, JSON, headers)
    # out. The FastAPI routes below (OpenAPI, CORS, browsers) and the raw ASGI fast path
    # (FastPath: every other client) both call them, so both answer byte for byte the same.
    async def handle_event(headers: Headers, chunks: AsyncIterator[bytes]) -> Answer:
        try:
            kid = authenticate(headers)
            body = await read_json(headers, chunks, m.MAX_EVENT_BYTES)
            ev, errs = m.validate_event(body)
            if ev is None:
                raise ApiError(400, errs)
            stored = (await write([event_row(ev, clock.now(), max_skew, kid)]))[0]
        except ApiError as e:
            return e.status, {"errors": e.errors}, e.headers
        return (201 if stored else 200,
                {"message_id": ev.message_id, "status": "stored" if stored else "duplicate", "duplicate": not stored},
                None)

    async def handle_batch(headers: Headers, chunks: AsyncIterator[bytes]) -> Answer:
        try:
            kid = authenticate(headers)
            raw = await read_body(headers, chunks, m.MAX_BATCH_BYTES)
            received = clock.now()  # once the body is in, before item validation (as before)
            check = check_body(raw)
            if not check.valid:
                raise ApiError(400, check.errors)
            batch = event_batch([e for _, e in check.valid], received, max_skew, kid)
            stored = await write(batch)
        except ApiError as e:
            return e.status, {"errors": e.errors}, e.headers
        results: list[dict[str, Any]] = [{"index": i, "status": "invalid"} for i in range(check.size)]
        for (i, _), mid, ok in zip(check.valid, batch.ids, stored, strict=True):
            results[i] = {"index": i, "status": "stored" if ok else "duplicate", "message_id": mid}
        n_stored = sum(stored)
        n_valid = len(check.valid)
        out = {"stored": n_stored, "duplicates": n_valid - n_stored, "invalid": check.size - n_valid,
               "results": results, "errors": check.errors}
        return 207 if check.errors else 200, out, None

    async def _answer(handler: Callable[[Headers, AsyncIterator[bytes]], Awaitable[Answer]],
                      request: Request) -> Response:
        status, body, headers = await handler(request.headers, request.stream())
        return json_response(body, status, headers)

    @app.post("/v1/events", summary="Record one alert event", status_code=201,
              openapi_extra=_body_doc(m.EVENT_SCHEMA),
              responses={200: {"description": "Duplicate message_id: already stored, nothing written"},
                         **_err_responses(400, 401, 403, 413, 415, 503)})
    async def post_event(request: Request) -> Response:
        return await _answer(handle_event, request)

    @app.post("/v1/batch", summary="Record up to 500 alert events",
              openapi_extra=_body_doc(m.BATCH_SCHEMA),
              responses={207: {"description": "Some events invalid: the valid ones are committed; see results"},
                         **_err_responses(400, 401, 403, 413, 415, 503)})
    async def post_batch(request: Request) -> Response:
        """Per-item answer: `results[i].status` is stored, duplicate or invalid. 200 when every event
        is valid, 207 when some are invalid (every valid one is committed), 400 when none is."""
        return await _answer(handle_batch, request)

    @app.post("/v1/goals", summary="Register a user's goal window", status_code=201,
              openapi_extra=_body_doc(m.GOAL_SCHEMA),
              responses={200: {"description": "Duplicate goal_id: already stored"},
                         **_err_responses(400, 401, 403, 413, 415, 503)})
    async def post_goal(request: Request) -> Response:
        headers = request.headers
        authenticate(headers)
        body = await read_json(headers, request.stream(), m.MAX_EVENT_BYTES)
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

    fast = FastPath(app, {"/v1/events": handle_event, "/v1/batch": handle_batch})
    app.state.fast_path = fast
    return fast
