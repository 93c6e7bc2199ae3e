"""The simulator's HTTP server: the provider API (docs/provider-api.md), faults and the /_sim admin paths.

``start_server(market)`` serves a Market from a daemon thread (stdlib ThreadingHTTPServer, HTTP/1.1
keep-alive, TCP_NODELAY); tests, bench/sim_search.py, the launcher and ``python -m simulator serve`` use it.
"""

from __future__ import annotations

import email.utils
import json
import re
import sys
import threading
import time
import traceback
from collections import deque
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from simulator.api import ProviderApi
from simulator.faults import FaultError, FaultPlan, FaultRule, rule_from_dict
from simulator.model import Market

DEFAULT_API_KEY = "tablepulse-sim-key"
PROVIDER_ROUTES = (("POST", "/3/venuesearch/search"), ("GET", "/4/find"), ("POST", "/4/find"))
MAX_BODY = 1 << 20
_AUTH_RE = re.compile(r'^\s*ResyAPI\s+api_key\s*=\s*"?([^"\s]*)"?\s*$')
CHALLENGE_HTML = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
                  b"<div id=\"cf-chl-widget\" class=\"challenge-platform\">Checking your browser before accessing "
                  b"resy.com. Please complete the captcha.</div></body></html>")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def parse_instant(value: str, name: str) -> datetime:
    """ISO 8601 -> naive UTC; ValueError naming the parameter otherwise."""
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return dt


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], market: Market, api_key: str, faults: FaultPlan) -> None:
        super().__init__(addr, _Handler)
        self.market = market
        self.api = ProviderApi(market)
        self.api_key = api_key
        self.faults = faults
        self.counter_lock = threading.Lock()
        self.request_no = 0
        self.requests: deque[dict[str, Any]] = deque(maxlen=200_000)

    def next_request_no(self) -> int:
        with self.counter_lock:
            self.request_no += 1
            return self.request_no


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log is /_sim/requests
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # ---- plumbing ------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Authentication Timeout" if status == 419 else "Status"
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if self.close_connection:
            lines.append("Connection: close")
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
            self.close_connection = True

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, _dumps(obj))

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._json(411, {"status": 411, "message": "send the body with a Content-Length"})
            return None
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._json(400, {"status": 400, "message": "Content-Length is not an integer"})
            return None
        if n > MAX_BODY:
            self._json(413, {"status": 413, "message": f"body larger than {MAX_BODY} bytes"})
            self.close_connection = True
            return None
        return self.rfile.read(n) if n else b""

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if url.path.startswith("/_sim/"):
                self._admin(method, url.path, params, body)
            elif (method, url.path) in PROVIDER_ROUTES:
                self._provider(method, url.path, params, body)
            else:
                self._json(404, {"status": 404, "message": f"no route {method} {url.path}"})
        except Exception as e:  # a bug must answer 500, not kill the connection silently
            traceback.print_exc(file=sys.stderr)
            self._json(500, {"status": 500, "message": f"simulator error: {type(e).__name__}: {e}"})

    # ---- provider API --------------------------------------------------------------------------------
    def _provider(self, method: str, path: str, params: dict[str, str], body: bytes) -> None:
        srv, m = self.server, self.server.market
        n = srv.next_request_no()
        wall = time.time()
        virtual = m.now().isoformat()
        kind = "search" if path.startswith("/3/") else "find"
        status, headers, raw, ctype, fault = self._provider_response(kind, method, params, body, n)
        entry = {"request_no": n, "wall_time": wall, "virtual_time": virtual, "method": method, "path": path,
                 "status": status, "fault": fault.kind if fault else None}
        with srv.counter_lock:
            srv.requests.append(entry)
        if fault is not None:  # logged before a slow answer sleeps, so the truth never lags the injection
            srv.faults.record({"request_no": n, "wall_time": wall, "virtual_time": virtual, "kind": fault.kind,
                               "path": path, "status": status})
            if fault.kind == "slow":
                time.sleep(fault.delay)
        self._send(status, raw, ctype, headers)

    def _request_fields(self, kind: str, method: str, params: dict[str, str], body: bytes) -> Any:
        """What the client asked, in each form public clients send (docs/provider-api.md, request forms):
        a JSON body, a form body (search: the JSON in its `struct_data` field), or (find) the query string,
        which a POST's body fields extend. ValueError says what could not be read."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if method == "GET":
            return params
        try:
            text = body.decode()
            if ctype == "application/x-www-form-urlencoded":
                form = {k: v[-1] for k, v in parse_qs(text).items()}
                if kind == "search":
                    if "struct_data" not in form:
                        raise ValueError("a form-encoded search carries its JSON body in the struct_data field")
                    return json.loads(form["struct_data"])
                return {**params, **form}
            parsed = json.loads(text or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"request body is not valid JSON: {e}") from None
        if kind == "find":
            if parsed is None:
                return params
            if not isinstance(parsed, dict):
                raise ValueError("request body must be a JSON object")
            return {**params, **parsed}
        return parsed

    def _provider_response(self, kind: str, method: str, params: dict[str, str], body: bytes, n: int
                           ) -> tuple[int, dict[str, str], bytes, str, FaultRule | None]:
        srv = self.server
        match = _AUTH_RE.match(self.headers.get("Authorization", ""))
        if not match or match.group(1) != srv.api_key:
            return 419, {}, _dumps({"status": 419, "message": "Unauthorized"}), "application/json", None
        try:
            parsed = self._request_fields(kind, method, params, body)
        except ValueError as e:
            return 400, {}, _dumps({"status": 400, "message": str(e)}), "application/json", None
        page = 1
        if kind == "search" and isinstance(parsed, dict) and isinstance(parsed.get("page"), int):
            page = parsed["page"]
        fault = srv.faults.decide(n, kind, page)
        fk = fault.kind if fault else None
        if fault is not None:
            if fk in ("http_500", "http_503"):
                st = 500 if fk == "http_500" else 503
                return st, {}, _dumps({"status": st, "message": HTTPStatus(st).phrase}), "application/json", fault
            if fk == "rate_limit":
                return 429, {"Retry-After": str(fault.retry_after)}, \
                    _dumps({"status": 429, "message": "Too Many Requests"}), "application/json", fault
            if fk == "rate_limit_date":
                when = email.utils.formatdate(int(time.time()) + 1 + fault.retry_after, usegmt=True)
                return 429, {"Retry-After": when}, _dumps({"status": 429, "message": "Too Many Requests"}), \
                    "application/json", fault
            if fk == "challenge_200":
                return 200, {}, CHALLENGE_HTML, "text/html; charset=utf-8", fault
            if fk == "challenge_403":
                return 403, {}, CHALLENGE_HTML, "text/html; charset=utf-8", fault
            if fk == "missing_page" and fault.mode == "404":
                return 404, {}, _dumps({"status": 404, "message": "Not Found"}), "application/json", fault
        if kind == "search":
            status, headers, raw = srv.api.search(parsed)
        else:
            status, headers, raw = srv.api.find(parsed)
        if fault is None or status != 200 or fk == "slow":
            return status, headers, raw, "application/json", fault
        if fk == "malformed":
            return 200, headers, raw[: max(1, len(raw) // 2)] + b"\x00<", "application/json", fault
        payload = json.loads(raw)
        if kind == "search":
            hits = payload["search"]["hits"]
            if fk == "drift_rename":
                for h in hits:
                    h["avail"] = h.pop("availability")
            elif fk == "drift_missing_id":
                for h in hits:
                    h.pop("id", None)
            elif fk == "missing_page":
                payload["search"]["hits"] = []
            elif fk == "empty_results":
                payload["search"].update(hits=[], nbHits=0, nbPages=0)
        else:
            for v in payload["results"]["venues"]:
                if fk == "drift_rename":
                    v["slot_list"] = v.pop("slots")
                elif fk == "drift_missing_id":
                    v["venue"].pop("id", None)
                elif fk == "empty_results":
                    v["slots"] = []
        return 200, headers, _dumps(payload), "application/json", fault

    # ---- admin ---------------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, params: dict[str, str], body: bytes) -> None:
        if self.client_address[0] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            self._json(403, {"status": 403, "message": "/_sim paths answer loopback clients only"})
            return
        srv, m = self.server, self.server.market
        try:
            data: Any = json.loads(body) if (method == "POST" and body) else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            self._json(400, {"status": 400, "message": f"request body is not valid JSON: {e}"})
            return
        try:
            route = (method, path)
            if route == ("GET", "/_sim/health"):
                self._json(200, {"ok": True, "venues": len(m.venues), "seed": m.seed})
            elif route == ("GET", "/_sim/clock"):
                self._json(200, {"now": m.now().isoformat(), "speed": m.speed})
            elif route == ("POST", "/_sim/advance"):
                if not isinstance(data, dict) or ("to" in data) == ("seconds" in data):
                    raise ValueError('body must be {"to": ISO} or {"seconds": N}')
                if "to" in data:
                    m.advance_to(parse_instant(data["to"], "to"))
                else:
                    sec = data["seconds"]
                    if isinstance(sec, bool) or not isinstance(sec, int | float) or sec < 0:
                        raise ValueError(f"seconds must be a number >= 0, got {sec!r}")
                    m.advance(float(sec))
                self._json(200, {"now": m.now().isoformat(), "speed": m.speed})
            elif route == ("GET", "/_sim/venues"):
                self._json(200, {"venues": m.venues_truth(), "model": m.model_parameters()})
            elif route == ("GET", "/_sim/truth/intervals"):
                start, end = self._range(params)
                vid = int(params["venue_id"]) if params.get("venue_id") else None
                rows = m.truth_intervals(start, end, vid)
                for r in rows:
                    r["opened_at"] = r["opened_at"].isoformat()
                    r["closed_at"] = r["closed_at"].isoformat() if r["closed_at"] else None
                self._json(200, {"now": m.now().isoformat(), "intervals": rows})
            elif route == ("GET", "/_sim/truth/fully_booked"):
                start, end = self._range(params)
                tf = params.get("time_filter", "19:00")
                ps = int(params.get("party_size", "2"))
                shares = m.truth_fully_booked(start, end, tf, ps)
                self._json(200, {"now": m.now().isoformat(), "time_filter": tf, "party_size": ps,
                                 "shares": {str(k): v for k, v in shares.items()}})
            elif route == ("GET", "/_sim/faults"):
                self._json(200, srv.faults.describe())
            elif route == ("POST", "/_sim/faults"):
                if not isinstance(data, dict) or not isinstance(data.get("faults"), list):
                    raise ValueError('body must be {"faults": [{"kind": ..., "probability"|"count": ...}, ...]}')
                rules = [rule_from_dict(r) for r in data["faults"]]
                mode = data.get("mode", "replace")
                if mode not in ("replace", "append"):
                    raise ValueError(f"mode must be 'replace' or 'append', got {mode!r}")
                (srv.faults.set_rules if mode == "replace" else srv.faults.add_rules)(rules)
                self._json(200, srv.faults.describe())
            elif route == ("GET", "/_sim/truth/faults"):
                self._json(200, {"faults": srv.faults.injected()})
            elif route == ("GET", "/_sim/requests"):
                since = int(params.get("since", "0"))
                with srv.counter_lock:
                    reqs = [r for r in srv.requests if r["request_no"] > since]
                self._json(200, {"requests": reqs})
            else:
                self._json(404, {"status": 404, "message": f"no admin route {method} {path}"})
        except (ValueError, FaultError, KeyError, TypeError) as e:
            msg = str(e) if not isinstance(e, KeyError) else f"missing parameter {e}"
            self._json(400, {"status": 400, "message": msg})

    @staticmethod
    def _range(params: dict[str, str]) -> tuple[datetime, datetime]:
        if "start" not in params or "end" not in params:
            raise ValueError("start and end (ISO 8601) are required")
        start, end = parse_instant(params["start"], "start"), parse_instant(params["end"], "end")
        if end < start:
            raise ValueError("end is before start")
        return start, end


class RunningServer:
    """A simulator serving in a daemon thread; ``.url``, ``.port``, ``.stop()``, usable as a context manager."""

    def __init__(self, httpd: _Server) -> None:
        self._httpd = httpd
        self.market = httpd.market
        self.faults = httpd.faults
        host, port = httpd.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"simulator-{self.port}", daemon=True)
        self._thread.start()
        self._stopped = False

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._httpd.counter_lock:
            return list(self._httpd.requests)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def start_server(market: Market, host: str = "127.0.0.1", port: int = 0, api_key: str = DEFAULT_API_KEY,
                 faults: FaultPlan | list[FaultRule] | None = None) -> RunningServer:
    """Serve `market` on host:port (0 = a free port) from a daemon thread and return at once."""
    if isinstance(faults, FaultPlan):
        plan = faults
    else:
        plan = FaultPlan(seed=market.seed, rules=list(faults or []))
    return RunningServer(_Server((host, port), market, api_key, plan))
