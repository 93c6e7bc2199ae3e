"""Command line of the bundled market: ``python -m simulator serve ...`` (also ``tablepulse market``).

``main(argv)`` parses and validates the options, starts simulator/server.py on a Market, prints the URL
and serves until SIGINT/SIGTERM. Bad options print one line naming the problem and exit with status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from simulator.faults import KINDS, FaultError, FaultRule, parse_fault_spec
from simulator.server import DEFAULT_API_KEY, parse_instant, start_server

FAULT_HELP = "\n".join(f"  {k:<17} {v}" for k, v in KINDS.items())


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _venues(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--venues must be an integer, got {v!r}") from None
    if not 1 <= n <= 20000:
        raise argparse.ArgumentTypeError(f"--venues must be between 1 and 20000, got {n}")
    return n


def _nonneg_int(name: str, hi: int) -> Callable[[str], int]:
    def conv(v: str) -> int:
        try:
            n = int(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {v!r}") from None
        if not 0 <= n <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be between 0 and {hi}, got {n}")
        return n
    conv.__name__ = name
    return conv


def _speed(v: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--speed must be a number, got {v!r}") from None
    if not 0 <= x <= 1e7 or x != x:
        raise argparse.ArgumentTypeError(f"--speed must be between 0 and 10000000, got {v}")
    return x


def _start(v: str) -> datetime:
    try:
        return parse_instant(v, "--start")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _fault(v: str) -> FaultRule:
    try:
        return parse_fault_spec(v)
    except FaultError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m simulator", description="The bundled simulated reservation market "
                "(Resy's web API shape, with ground truth and fault knobs).")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser(
        "serve", help="serve the market over HTTP until Ctrl-C",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve a seeded simulated market over HTTP: the provider API (POST /3/venuesearch/search, "
                    "GET /4/find) and the /_sim admin paths (docs/provider-api.md).",
        epilog="fault kinds (--fault KIND[:key=value,...]; keys p|probability, count, path=any|search|find, "
               "retry_after, delay, mode=empty|404):\n" + FAULT_HELP)
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=_nonneg_int("--port", 65535), default=8070,
                   help="TCP port (default 8070; 0 picks a free port, printed at start)")
    s.add_argument("--seed", type=_nonneg_int("--seed", 2**63 - 1), default=7,
                   help="market seed: same seed + same requests (manual clock) = same responses (default 7)")
    s.add_argument("--venues", type=_venues, default=400, help="number of venues, 1..20000 (default 400)")
    s.add_argument("--speed", type=_speed, default=1.0,
                   help="virtual clock speed: 1 = real time (default), K = K times faster, 0 = manual "
                        "(only POST /_sim/advance moves it)")
    s.add_argument("--start", type=_start, default=None,
                   help="virtual start instant, ISO 8601 (naive = UTC; default: now, to the minute)")
    s.add_argument("--api-key", default=DEFAULT_API_KEY,
                   help=f"API key clients must send as Authorization: ResyAPI api_key=\"KEY\" (default {DEFAULT_API_KEY})")
    s.add_argument("--fault", type=_fault, action="append", default=[], metavar="KIND[:k=v,...]",
                   help="inject a fault from the start (repeatable), e.g. rate_limit:p=0.05,retry_after=3 or "
                        "http_503:count=5; default probability 1. Change live with POST /_sim/faults")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.cmd != "serve":
        p.print_help()
        return 2
    if not a.api_key:
        p.error("--api-key must not be empty")
    from simulator.model import Market

    market = Market(a.seed, n_venues=a.venues, start=a.start, speed=a.speed)
    try:
        srv = start_server(market, host=a.host, port=a.port, api_key=a.api_key, faults=a.fault)
    except OSError as e:
        print(f"{p.prog}: error: cannot listen on {a.host}:{a.port}: {e.strerror or e}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"simulator listening on {srv.url} (seed {a.seed}, {a.venues} venues, speed {a.speed:g}, "
              f"virtual now {market.now().isoformat()}Z)", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        srv.stop()
        for sig, h in old.items():
            signal.signal(sig, h)
    print("simulator stopped", flush=True)
    return 0
