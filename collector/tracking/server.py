"""How the collector's HTTP endpoint (tracking + health) is served: uvicorn on httptools, with limits.

``config`` builds the uvicorn.Config that the service, ``python -m collector.tracking`` and the
tests all use, so the limits below are the ones that run. uvicorn's httptools protocol (its C
parser, cheaper per request than h11) bounds neither a request head nor the time a
request takes to arrive: ``LimitedHttpToolsProtocol`` adds both, from the parser's callbacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from collector.tracking.models import error

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024   # request line + header fields
MAX_HEADERS = 100            # header fields per request
KEEP_ALIVE_S = 5.0           # idle between requests on a kept-alive connection (uvicorn's timeout_keep_alive)
HEAD_TIMEOUT_S = 10.0        # from connecting (or the previous answer) to the end of the request head
BODY_TIMEOUT_S = 30.0        # from the end of the head to the end of the body
MAX_CONCURRENCY = 1000       # connections + requests in progress; beyond it uvicorn answers 503


def _answer_431(reason: str) -> bytes:
    body = json.dumps({"errors": [error(None, "headers", reason)]}).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))


TOO_MANY_HEADERS = _answer_431(f"must be at most {MAX_HEADERS} header fields")
HEAD_TOO_LARGE = _answer_431(f"request head must be at most {MAX_HEAD_BYTES} bytes")


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and deadlines on reading a request.

    Head: at most MAX_HEAD_BYTES and MAX_HEADERS fields, else 431 and the connection closed. The
    bytes of a head still arriving are counted as they come (the parser buffers an unfinished
    header value itself), so a 16 MB header is cut off at the limit; a complete head is measured
    from its parsed parts. (A pipelined head that starts in the read that ended the previous
    request is counted from its next read: at most one read, 256 KiB, more.)

    Deadlines: the head must be in within ``head_timeout_s`` of the connection opening (or of the
    previous answer), the body within ``body_timeout_s`` of the head. uvicorn itself only times
    out a connection that is idle after an answer (timeout_keep_alive), and any byte received
    cancels that timer. A missed deadline closes the connection without an answer (the app, if it
    was reading the body, sees a disconnect and stores nothing). While the app works on a complete
    request no deadline runs."""

    head_timeout_s = HEAD_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._part = "head"          # the part of the next or current request the parser is in
        self._head_bytes = 0         # bytes of the current unfinished head, by reads
        self._ended_in_read = False  # a request ended during the current read
        self._rejected = False
        self._deadline: asyncio.TimerHandle | None = None
        self._timed: str | None = None  # the part whose deadline runs

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow()

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        self._ended_in_read = False
        super().data_received(data)
        if self._part == "head" and not self._ended_in_read and not self._rejected:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._reject(HEAD_TOO_LARGE)
        self._follow()

    def on_headers_complete(self) -> None:
        headers = self.headers
        if len(headers) > MAX_HEADERS:
            return self._reject(TOO_MANY_HEADERS)
        size = len(self.url) + 14 + sum(len(k) + len(v) for k, v in headers) + 4 * len(headers)
        if size > MAX_HEAD_BYTES:
            return self._reject(HEAD_TOO_LARGE)
        self._part = "body"
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._rejected:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._rejected:
            return
        self._part, self._head_bytes, self._ended_in_read = "head", 0, True
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_deadline(None, None)
        super().connection_lost(exc)

    def _reject(self, answer: bytes) -> None:
        self._rejected = True
        self._set_deadline(None, None)
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _follow(self) -> None:
        """Run the deadline of the part of a request now being read (none while the app works)."""
        if self._part == "body":
            self._set_deadline("body", self.body_timeout_s)
        elif self.cycle is None or self.cycle.response_complete:
            self._set_deadline("head", self.head_timeout_s)
        else:
            self._set_deadline(None, None)

    def _set_deadline(self, part: str | None, seconds: float | None) -> None:
        if part is not None and part == self._timed:
            return  # still reading the same part: its deadline keeps running
        if self._deadline is not None:
            self._deadline.cancel()
        self._timed, self._deadline = part, None
        if seconds is not None and self.transport is not None and not self.transport.is_closing():
            self._deadline = self.loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        part, self._deadline = self._timed, None
        if not self.transport.is_closing():
            log.info("closing a connection whose request %s did not arrive in time", part,
                     extra={"ctx": {"client": self.client}})
            self.transport.close()


def config(app: Any, host: str, port: int, *, keep_alive_s: float = KEEP_ALIVE_S,
           head_timeout_s: float = HEAD_TIMEOUT_S, body_timeout_s: float = BODY_TIMEOUT_S,
           max_concurrency: int = MAX_CONCURRENCY, **kwargs: Any) -> uvicorn.Config:
    """The uvicorn config of the endpoint; tests pass shorter timeouts."""
    protocol = type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,),
                    {"head_timeout_s": head_timeout_s, "body_timeout_s": body_timeout_s})
    return uvicorn.Config(app, host=host, port=port, http=protocol,
                          timeout_keep_alive=keep_alive_s,  # type: ignore[arg-type]  # uvicorn takes a float here
                          limit_concurrency=max_concurrency, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=5, **kwargs)
