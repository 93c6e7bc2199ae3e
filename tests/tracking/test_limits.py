"""The endpoint's connection limits against a real uvicorn server on loopback, over raw sockets
(README, tracking endpoint): request head size and field count, and the idle, head and body
deadlines. The server runs with ``server.config`` as the service does, with shorter timeouts."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from collector.store.writer import Store
from collector.tracking.app import create_app
from collector.tracking.server import MAX_HEAD_BYTES, MAX_HEADERS

from .conftest import KEY, ServerThread
from .test_endpoint import ev, rows

KEEP_ALIVE_S, HEAD_TIMEOUT_S, BODY_TIMEOUT_S = 1.0, 1.5, 1.5
WAIT_S = 15  # a connection still open after this long was not closed by any deadline


@pytest.fixture
def limited(settings, store, clock) -> Iterator[ServerThread]:
    with ServerThread(create_app(settings, store, clock), keep_alive_s=KEEP_ALIVE_S,
                      head_timeout_s=HEAD_TIMEOUT_S, body_timeout_s=BODY_TIMEOUT_S) as s:
        yield s


def connect(server: ServerThread) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_closed(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket.timeout if it never does)."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def head(path: str, *extra: bytes, length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Authorization: Bearer " + KEY.encode(),
             b"Content-Type: application/json", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_head_over_the_limit_in_one_piece_is_431_and_closed(limited):
    with connect(limited) as s:
        s.sendall(head("/v1/events", b"X-Pad: " + b"a" * MAX_HEAD_BYTES, length=2) + b"{}")
        answer = read_until_closed(s)
    assert status_of(answer) == 431, answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["errors"][0]["field"] == "headers" and str(MAX_HEAD_BYTES) in body["errors"][0]["reason"]


def test_head_still_arriving_past_the_limit_is_431_and_closed(limited, store):
    # the 16 MB header value: counted as it arrives, cut off once past MAX_HEAD_BYTES
    with connect(limited) as s:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sent = 0
        try:
            while sent < 16 * 1024 * 1024:
                s.sendall(b"b" * 4096)
                sent += 4096
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_until_closed(s)
    assert sent < 16 * 1024 * 1024, "the server read a 16 MB header"
    assert status_of(answer) == 431, answer[:200]
    assert rows(store) == []


def test_heads_under_the_limit_arriving_in_pieces_are_served_on_one_connection(limited, store):
    # each head is counted on its own: three 10 KiB heads (30 KiB in all), each in two reads
    sent = []
    with connect(limited) as s:
        for _ in range(3):
            e = ev()
            body = json.dumps(e).encode()
            h = head("/v1/events", b"X-Pad: " + b"p" * (10 * 1024), length=len(body))
            s.sendall(h[:9000])
            time.sleep(0.05)
            s.sendall(h[9000:] + body)
            answer = s.recv(65536)
            assert status_of(answer) == 201, answer[:300]
            sent.append(e["message_id"])
    assert sorted(r[0] for r in rows(store)) == sorted(sent)


def test_pipelined_requests_in_one_read_are_both_answered(limited, store):
    es = [ev(), ev()]
    bodies = [json.dumps(e).encode() for e in es]
    with connect(limited) as s:
        s.sendall(b"".join(head("/v1/events", length=len(b)) + b for b in bodies))
        answers = b""
        while answers.count(b"HTTP/1.1 201") < 2:
            chunk = s.recv(65536)
            assert chunk, answers
            answers += chunk
    assert sorted(r[0] for r in rows(store)) == sorted(e["message_id"] for e in es)


def test_too_many_header_fields_is_431(limited):
    fields = [f"X-H{i}: v".encode() for i in range(MAX_HEADERS)]  # with Host etc. one too many at least
    with connect(limited) as s:
        s.sendall(head("/v1/events", *fields, length=2) + b"{}")
        answer = read_until_closed(s)
    assert status_of(answer) == 431, answer[:200]
    assert "header fields" in json.loads(answer.split(b"\r\n\r\n", 1)[1])["errors"][0]["reason"]
    # the limit itself is allowed: MAX_HEADERS fields in all
    ok = [b"GET /health HTTP/1.1", b"Host: x", *(f"X-H{i}: v".encode() for i in range(MAX_HEADERS - 2)),
          b"Connection: close"]
    with connect(limited) as s:
        s.sendall(b"\r\n".join(ok) + b"\r\n\r\n")
        assert status_of(read_until_closed(s)) == 200


def test_idle_connection_is_closed_by_the_head_deadline(limited):
    with connect(limited) as s:
        t0 = time.monotonic()
        assert read_until_closed(s) == b""  # closed without a word
        assert time.monotonic() - t0 >= HEAD_TIMEOUT_S * 0.9


def test_idle_kept_alive_connection_is_closed_after_keep_alive(limited):
    with connect(limited) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(65536)
        assert status_of(first) == 200
        t0 = time.monotonic()
        assert read_until_closed(s) == b""
        assert time.monotonic() - t0 >= KEEP_ALIVE_S * 0.9


def test_slow_head_is_closed_by_its_deadline_even_while_bytes_trickle_in(limited):
    with connect(limited) as s:
        t0 = time.monotonic()
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
        closed = False
        while time.monotonic() - t0 < WAIT_S:  # one byte every 0.2 s: never idle, never finished
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(0.2)
            try:
                if s.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed, "a head trickling in was never cut off"
        assert time.monotonic() - t0 >= HEAD_TIMEOUT_S * 0.9


def test_slow_short_body_is_closed_by_its_deadline_and_stores_nothing(limited, store):
    body = json.dumps(ev()).encode()
    with connect(limited) as s:
        s.sendall(head("/v1/events", length=len(body)) + body[:20])  # announced, then it stops
        t0 = time.monotonic()
        assert read_until_closed(s) == b""
        assert time.monotonic() - t0 >= BODY_TIMEOUT_S * 0.9
    assert rows(store) == []


def test_a_body_sent_slowly_within_its_deadline_is_stored(limited, store):
    e = ev()
    body = json.dumps(e).encode()
    with connect(limited) as s:
        s.sendall(head("/v1/events", length=len(body)))
        for i in range(0, len(body), len(body) // 4 + 1):  # four pieces over ~0.6 s
            time.sleep(0.15)
            s.sendall(body[i:i + len(body) // 4 + 1])
        answer = s.recv(65536)
        assert status_of(answer) == 201, answer[:300]
        # the same connection serves the next request: the deadlines restart per request
        e2 = ev()
        b2 = json.dumps(e2).encode()
        s.sendall(head("/v1/events", length=len(b2)) + b2)
        assert status_of(s.recv(65536)) == 201
    assert {r[0] for r in rows(store)} == {e["message_id"], e2["message_id"]}


def test_demo_key_warns_on_a_non_loopback_address(settings, store: Store, clock, caplog):
    from fastapi.testclient import TestClient

    from tablepulse_settings import DEMO_WRITE_KEY

    demo = {"Authorization": f"Bearer {DEMO_WRITE_KEY}"}
    other = {"Authorization": f"Bearer {KEY}"}
    cases = [("0.0.0.0", demo, 1), ("10.1.2.3", demo, 1), ("127.0.0.1", demo, 0), ("localhost", demo, 0),
             ("::1", demo, 0), ("0.0.0.0", other, 0)]
    for host, auth, warnings in cases:
        caplog.clear()
        app = create_app(settings.replace(write_keys=[KEY, DEMO_WRITE_KEY], tracking_host=host), store, clock)
        with TestClient(app) as c, caplog.at_level("WARNING", logger="collector.tracking.app"):
            for _ in range(2):  # once per process, not once per request
                ok = c.post("/v1/events", json=ev(message_id=str(uuid.uuid4())), headers=auth)
                assert ok.status_code == 201
        said = [r for r in caplog.records if "demo write key" in r.getMessage()]
        assert len(said) == warnings, (host, auth, said)
        if warnings:
            assert host in said[0].getMessage()
