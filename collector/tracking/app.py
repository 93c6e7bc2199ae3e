"""The tracking endpoint: clients POST alert events and goals; a 2xx means durably committed.

``create_app`` builds the FastAPI app (routes, OpenAPI from the models, CORS, goals, health). The
collector service serves it with uvicorn in-process (``server.config``) and hands it the
service's Store (the single writer), so writes share the one read-write connection.
Status codes: 201 stored / 200 duplicate (single event, goal); batch 200 all valid, 207 some
invalid (the valid ones are committed), 400 none valid; 400 bad input (field + reason), 401 no
key, 403 wrong key, 413 too large, 415 not JSON, 431 request head too large or too many header
fields (answered by server.py's protocol, before the app), 503 + Retry-After when the writer is behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from collector.clock import Clock
from collector.store.writer import QueueFull, Store, StoreClosed
from collector.tracking import models as m
from collector.tracking.ingest import Coalescer, Row, event_rows, insert_goal_job
from tablepulse_settings import DEMO_WRITE_KEY, Settings

log = logging.getLogger(__name__)
Endpoint = Callable[..., Awaitable[Response]]
RETRY_AFTER_S = "1"


class ApiError(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
        self.status, self.errors, self.headers = status, errors, headers or {}


# built once: json.dumps with options other than the defaults builds an encoder on every call.
# ensure_ascii: a client-supplied field name echoed in an error may hold a lone surrogate
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=str)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_ENCODER.encode(body), status_code=status, headers=headers, media_type="application/json")


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _err_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Invalid input: each problem with its index, field and reason", 401: "No write key",
            403: "Wrong write key", 413: "Body too large", 415: "Content-Type is not application/json",
            431: "Request head too large or too many header fields",
            503: "Writer is behind or stopping; retry after Retry-After seconds"}
    return {c: {"description": text[c], "content": {"application/json": {"schema": m.ERRORS_SCHEMA}}}
            for c in codes}


def _body_doc(model: type[Any]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


@contextlib.asynccontextmanager
async def _freeze_startup_heap(app: FastAPI) -> AsyncIterator[None]:
    """Once the process is built (imports, app, Store), move what it holds out of the cycle
    collector's reach: otherwise every full (generation 2) pass re-scans all of it, CPU taken from
    requests and a pause that sets the endpoint's tail latency."""
    gc.collect()
    gc.freeze()
    yield


def create_app(settings: Settings, store: Store, clock: Clock,
               health: Callable[[], dict[str, Any]] | None = None, *, coalesce: bool = True) -> FastAPI:
    """The tracking + health app. ``coalesce=False`` writes one store job per request (the bench's
    commit-per-request baseline when the Store runs with max_group=1)."""
    keys = {k.encode(): hashlib.sha256(k.encode()).hexdigest()[:12] for k in settings.write_keys}
    demo_key = DEMO_WRITE_KEY.encode()
    # the demo key is in the README: anyone who can reach a non-loopback address can write with it
    warn_demo = [not _is_loopback(settings.tracking_host)]
    coalescer = Coalescer(store, float(settings.max_clock_skew_s), settings.writer_queue_max, coalesce=coalesce)

    # telemetry off: no OpenTelemetry provider is configured here, and FastAPI would look for one on every request
    app = FastAPI(title="Tablepulse tracking", version="1", telemetry={"tracing": False, "metrics": False, "logs": False},
                  lifespan=_freeze_startup_heap,
                  description="Alert events and goals from clients. A 2xx answer means durably committed. "
                              "Authenticate with `Authorization: Bearer <write key>` (or `X-Write-Key`).")
    app.state.coalescer = coalescer
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Write-Key"],
                           expose_headers=["Retry-After"], max_age=600)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=[*app.routes, *documented])
            _, defs = models_json_schema([(x, "validation") for x in (m.Event, m.Batch, m.Goal)],
                                         ref_template="#/components/schemas/{model}")
            spec.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    documented: list[APIRoute] = []

    def route(path: str, method: str, **doc: Any) -> Callable[[Endpoint], Endpoint]:
        """A route served by Starlette as it is and described in the OpenAPI document by FastAPI. The
        endpoints take the Request and answer a Response themselves, so FastAPI's per-request
        dependency solving and response wrapping would only cost time."""

        def add(endpoint: Endpoint) -> Endpoint:
            app.router.routes.append(Route(path, endpoint, methods=[method]))
            documented.append(APIRoute(path, endpoint, methods=[method], **doc))
            return endpoint

        return add

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return json_response({"errors": exc.errors}, exc.status, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return json_response({"detail": exc.detail, "errors": [m.error(None, "request", str(exc.detail))]},
                             exc.status_code, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> Response:
        log.error("tracking request failed", exc_info=exc)
        return json_response({"errors": [m.error(None, "request", "internal error; retry")]}, 500)

    def authenticate(request: Request) -> str:
        headers = request.headers
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
                if k == demo_key and warn_demo[0]:
                    warn_demo[0] = False
                    log.warning("the demo write key was accepted on %s, a non-loopback address: anyone can "
                                "send events with it; set write_keys to your own keys", settings.tracking_host)
                return kid
        raise ApiError(403, [m.error(None, "Authorization", "write key is not valid")])

    async def read_json(request: Request, limit: int) -> Any:
        headers = request.headers
        ctype = headers.get("content-type", "")
        if ctype.split(";", 1)[0].strip().lower() != "application/json":
            raise ApiError(415, [m.error(None, "Content-Type", "must be application/json")])
        too_large = ApiError(413, [m.error(None, "body", f"must be at most {limit} bytes")])
        cl = headers.get("content-length")
        if cl is not None:
            if not cl.isdigit():
                raise ApiError(400, [m.error(None, "Content-Length", "is not a number")])
            if int(cl) > limit:
                raise too_large
        parts, n = [], 0
        try:
            async for chunk in request.stream():  # a lying or absent Content-Length: count what comes
                n += len(chunk)
                if n > limit:
                    raise too_large
                parts.append(chunk)
        except ClientDisconnect:
            raise ApiError(400, [m.error(None, "body", "the connection closed before the body ended")]) from None
        if not n:
            raise ApiError(400, [m.error(None, "body", "is empty")])
        try:
            return m.parse_json(b"".join(parts))
        except ValueError as e:
            raise ApiError(400, [m.error(None, "body", str(e))]) from None

    async def write(rows: list[Row]) -> list[bool]:
        try:
            return await coalescer.submit(rows)
        except (QueueFull, StoreClosed) as e:
            reason = "the writer is behind" if isinstance(e, QueueFull) else "the service is stopping"
            raise ApiError(503, [m.error(None, "request", f"not stored: {reason}; retry")],
                           {"Retry-After": RETRY_AFTER_S}) from None

    @route("/v1/events", "POST", summary="Record one alert event", status_code=201, openapi_extra=_body_doc(m.Event),
              responses={200: {"description": "Duplicate message_id: already stored, nothing written"},
                         **_err_responses(400, 401, 403, 413, 415, 431, 503)})
    async def post_event(request: Request) -> Response:
        kid = authenticate(request)
        body = await read_json(request, m.MAX_EVENT_BYTES)
        received = clock.now()
        ev, errs = m.validate_event(body)
        if ev is None:
            raise ApiError(400, errs)
        stored = (await write(event_rows([ev], received, kid)))[0]
        return json_response({"message_id": str(ev.message_id), "status": "stored" if stored else "duplicate",
                              "duplicate": not stored}, 201 if stored else 200)

    @route("/v1/batch", "POST", summary=f"Record up to {m.MAX_BATCH_EVENTS} alert events", openapi_extra=_body_doc(m.Batch),
              responses={207: {"description": "Some events invalid: the valid ones are committed; see results"},
                         **_err_responses(400, 401, 403, 413, 415, 431, 503)})
    async def post_batch(request: Request) -> Response:
        """Per-item answer: `results[i].status` is stored, duplicate or invalid. 200 when every event
        is valid, 207 when some are invalid (every valid one is committed), 400 when none is."""
        kid = authenticate(request)
        body = await read_json(request, m.MAX_BATCH_BYTES)
        received = clock.now()
        try:
            valid, errs, size = m.validate_batch(body)
        except ValidationError as e:
            too_many = any(x["type"] == "too_long" and x["loc"] == ("events",) for x in e.errors())
            raise ApiError(413 if too_many else 400, m.errors(e)) from None
        if not valid:
            raise ApiError(400, errs)
        stored = await write(event_rows([ev for _, ev in valid], received, kid))
        results: list[dict[str, Any]] = [{"index": i, "status": "invalid"} for i in range(size)]
        for (i, ev), ok in zip(valid, stored, strict=True):
            results[i] = {"index": i, "status": "stored" if ok else "duplicate", "message_id": str(ev.message_id)}
        n_stored = sum(stored)
        out = {"stored": n_stored, "duplicates": len(valid) - n_stored, "invalid": size - len(valid),
               "results": results, "errors": errs}
        return json_response(out, 207 if errs else 200)

    @route("/v1/goals", "POST", summary="Register a user's goal window", status_code=201, openapi_extra=_body_doc(m.Goal),
              responses={200: {"description": "Duplicate goal_id: already stored"},
                         **_err_responses(400, 401, 403, 413, 415, 431, 503)})
    async def post_goal(request: Request) -> Response:
        authenticate(request)
        goal, errs = m.validate_goal(await read_json(request, m.MAX_EVENT_BYTES))
        if goal is None:
            raise ApiError(400, errs)
        try:
            stored = await asyncio.wrap_future(store.submit(insert_goal_job(goal, clock.now())))
        except (QueueFull, StoreClosed):
            raise ApiError(503, [m.error(None, "request", "not stored: the writer is busy; retry")],
                           {"Retry-After": RETRY_AFTER_S}) from None
        return json_response({"goal_id": str(goal.goal_id), "duplicate": not stored}, 201 if stored else 200)

    @route("/health", "GET", summary="Liveness and writer queue depth")
    async def get_health(request: Request) -> Response:
        if health is not None:
            return json_response(health())
        return json_response({"ok": True, "writer_queue": store.pending(), "tracking_pending": coalescer.pending()})

    return app
