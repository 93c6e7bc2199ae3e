"""`tablepulse` (also `python -m collector`): one command line for every piece of the product.

  collect    the collector service (polling, nightly job, tracking endpoint, snapshots)
  market     the bundled simulated market (the default upstream)
  dashboard  the Streamlit dashboard
  up         everything at once on the simulator, with history (what `make run` calls)
  aggregate  run the nightly aggregation for a day or a range (backfills)
  recompute  rebuild every metric from the kept slot intervals
  digest     the weekly editorial digest bundle
  health     the service's health report
  settings   every setting with its current value
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from tablepulse_settings import Settings, SettingsError, load, settings_table


def _date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a date (YYYY-MM-DD)") from None


def _install_stop(stop: Callable[[], None]) -> None:
    def handler(signum: int, _frame: Any) -> None:
        stop()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def cmd_collect(s: Settings, a: argparse.Namespace) -> int:
    from collector.service import Service, setup_logging

    setup_logging(s.log_level)
    svc = Service(s)
    _install_stop(svc.stop_event.set)
    svc.start()
    print(f"collector running: health http://{s.tracking_host}:{svc.http_port}/health  db {s.db_path}", flush=True)
    svc.run_forever()
    return 0


def cmd_market(s: Settings, a: argparse.Namespace) -> int:
    from simulator.cli import main as sim_main

    return int(sim_main(["serve", *a.rest]) or 0)


def cmd_dashboard(s: Settings, a: argparse.Namespace) -> int:
    import subprocess

    from collector.launcher import dashboard_command

    return subprocess.call(dashboard_command(s, a.port if a.port is not None else s.dashboard_port))


def cmd_up(s: Settings, a: argparse.Namespace) -> int:
    from collector.launcher import up

    return up(s, fresh=a.fresh, history_days=a.history_days)


def cmd_aggregate(s: Settings, a: argparse.Namespace) -> int:
    from collector.nightly import cli_aggregate

    if a.date and (a.date_from or a.date_to):
        raise SystemExit("tablepulse aggregate: give either --date or --from/--to, not both")
    if (a.date_from is None) != (a.date_to is None):
        raise SystemExit("tablepulse aggregate: --from and --to go together")
    if a.date_from and a.date_to and a.date_from > a.date_to:
        raise SystemExit(f"tablepulse aggregate: --from {a.date_from} is after --to {a.date_to}")
    return int(cli_aggregate(s, date=a.date, date_from=a.date_from, date_to=a.date_to) or 0)


def cmd_recompute(s: Settings, a: argparse.Namespace) -> int:
    from collector.nightly import cli_recompute

    return int(cli_recompute(s) or 0)


def cmd_digest(s: Settings, a: argparse.Namespace) -> int:
    from analytics.digest.cli import main as digest_main

    return int(digest_main(s, week=a.week, out=a.out) or 0)


def cmd_health(s: Settings, a: argparse.Namespace) -> int:
    import httpx

    url = f"http://{s.tracking_host}:{s.tracking_port}/health"
    try:
        r = httpx.get(url, timeout=5)
        print(json.dumps(r.json(), indent=2))
        return 0 if r.status_code == 200 else 1
    except httpx.HTTPError as e:
        print(f"collector service not reachable at {url}: {e}", file=sys.stderr)
        return 1


def cmd_settings(s: Settings, a: argparse.Namespace) -> int:
    values = s.public_items()
    width = max(len(n) for n, _d, _h in settings_table())
    for name, _default, help_ in settings_table():
        print(f"{name:<{width}}  {values[name]!r}\n{'':<{width}}  {help_}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tablepulse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML settings file (default: tablepulse.toml or $TABLEPULSE_CONFIG)")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.add_parser("collect", help="run the collector service").set_defaults(fn=cmd_collect)
    m = sub.add_parser("market", help="run the simulated market (options: python -m simulator serve --help)",
                       add_help=False)
    m.add_argument("rest", nargs=argparse.REMAINDER)
    m.set_defaults(fn=cmd_market)
    d = sub.add_parser("dashboard", help="run the Streamlit dashboard")
    d.add_argument("--port", type=int, help="port (default: setting dashboard_port)")
    d.set_defaults(fn=cmd_dashboard)
    u = sub.add_parser("up", help="market + collector + alert client + dashboard, with history")
    u.add_argument("--fresh", action="store_true", help="start from an empty database (moves the old file aside)")
    u.add_argument("--history-days", type=int, help="days of history to build on first start (default: setting history_days)")
    u.set_defaults(fn=cmd_up)
    ag = sub.add_parser("aggregate", help="nightly aggregation for one day or a range")
    ag.add_argument("--date", type=_date, help="one local day, YYYY-MM-DD (default: yesterday)")
    ag.add_argument("--from", dest="date_from", type=_date, help="first day of a backfill range")
    ag.add_argument("--to", dest="date_to", type=_date, help="last day of a backfill range (inclusive)")
    ag.set_defaults(fn=cmd_aggregate)
    sub.add_parser("recompute", help="rebuild every metric table from slot intervals").set_defaults(fn=cmd_recompute)
    dg = sub.add_parser("digest", help="weekly editorial digest bundle")
    dg.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last complete week)")
    dg.add_argument("--out", default="digest", help="output folder (default: ./digest)")
    dg.set_defaults(fn=cmd_digest)
    sub.add_parser("health", help="the running service's health report").set_defaults(fn=cmd_health)
    sub.add_parser("settings", help="every setting with its value and meaning").set_defaults(fn=cmd_settings)
    return p


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["market"]:   # every option belongs to the simulator's own parser
        from simulator.cli import main as sim_main

        return int(sim_main(["serve", *[x for x in args[1:] if x != "--"]]) or 0)
    p = build_parser()
    a = p.parse_args(args)
    if not getattr(a, "fn", None):
        p.print_help()
        return 2
    try:
        s = load(a.config)
    except SettingsError as e:
        print(f"tablepulse: configuration error: {e}", file=sys.stderr)
        return 2
    return a.fn(s, a)


if __name__ == "__main__":
    sys.exit(main())
