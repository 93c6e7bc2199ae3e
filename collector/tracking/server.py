"""How the collector's HTTP endpoint (tracking + health) is served: uvicorn on h11, with limits.

``config`` builds the uvicorn.Config that the service, ``python -m collector.tracking`` and the
tests all use, so the limits below are the ones that run. Why h11 and not httptools: uvicorn's
httptools protocol has no bound on a request head (a 16 MB header was accepted), while h11 stops
buffering an unfinished head at ``max_incomplete_event_size`` and exposes the connection's state
(``their_state``), which the read deadlines below need. The limits of a complete head (its size
and its number of fields) are checked by the app (``app.HeadLimits``), because h11 bounds only a
head that is still arriving.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024   # request line + header fields
MAX_HEADERS = 100            # header fields per request
KEEP_ALIVE_S = 5.0           # idle between requests on a kept-alive connection (uvicorn's timeout_keep_alive)
HEAD_TIMEOUT_S = 10.0        # from connecting (or the previous answer) to the end of the request head
BODY_TIMEOUT_S = 30.0        # from the end of the head to the end of the body
MAX_CONCURRENCY = 1000       # connections + requests in progress; beyond it uvicorn answers 503


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on reading each request: the head must be in within
    ``head_timeout_s`` of the connection opening (or of the previous answer), the body within
    ``body_timeout_s`` of the head. uvicorn itself only times out a connection that is idle after
    an answer (timeout_keep_alive), and any byte received cancels that timer; a connection that
    never finishes its head or its body would otherwise stay open for ever. A missed deadline
    closes the connection without an answer (the app, if it was reading the body, sees a
    disconnect and stores nothing). While the app works on a complete request no deadline runs."""

    head_timeout_s = HEAD_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading: Any = None  # h11.IDLE (head) or h11.SEND_BODY (body) while one is being read

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_deadline(None, None)
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Start the deadline of the part of the request now being read (none once it is all in)."""
        state = self.conn.their_state
        if state is h11.IDLE:
            self._set_deadline(state, self.head_timeout_s)
        elif state is h11.SEND_BODY:
            self._set_deadline(state, self.body_timeout_s)
        else:
            self._set_deadline(None, None)

    def _set_deadline(self, reading: Any, seconds: float | None) -> None:
        if reading is self._reading and reading is not None:
            return  # still reading the same part: its deadline keeps running
        if self._deadline is not None:
            self._deadline.cancel()
        self._reading, self._deadline = reading, None
        if seconds is not None and self.transport is not None and not self.transport.is_closing():
            self._deadline = self.loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        part = "head" if self._reading is h11.IDLE else "body"
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closing a connection whose request %s did not arrive in time", part,
                     extra={"ctx": {"client": self.client}})
            self.transport.close()


def config(app: Any, host: str, port: int, *, keep_alive_s: float = KEEP_ALIVE_S,
           head_timeout_s: float = HEAD_TIMEOUT_S, body_timeout_s: float = BODY_TIMEOUT_S,
           max_concurrency: int = MAX_CONCURRENCY, **kwargs: Any) -> uvicorn.Config:
    """The uvicorn config of the endpoint; tests pass shorter timeouts."""
    protocol = type("DeadlineH11Protocol", (DeadlineH11Protocol,),
                    {"head_timeout_s": head_timeout_s, "body_timeout_s": body_timeout_s})
    return uvicorn.Config(app, host=host, port=port, http=protocol, h11_max_incomplete_event_size=MAX_HEAD_BYTES,
                          timeout_keep_alive=keep_alive_s,  # type: ignore[arg-type]  # uvicorn takes a float here
                          limit_concurrency=max_concurrency, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=5, **kwargs)
