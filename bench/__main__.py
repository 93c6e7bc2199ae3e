"""Benchmarks: `python -m bench NAME [--size S]` runs one workload, `python -m bench all` runs all.

Each workload is a module bench/NAME.py with ``run(size: str) -> Iterable[dict]``; every dict is
one measurement and is printed as one JSON line with the fields
workload, metric, value, unit, baseline, ratio, target, ok (see bench/common.py: result()).
Baselines run in the same process, so ratios compare like with like on this machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

import bench


def workloads() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(bench.__file__).parent)])
                  if m.name not in {"common", "__main__"} and not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    names = workloads()
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help=f"workload to run: {', '.join(names)} or 'all'")
    p.add_argument("--size", default="default", choices=["small", "default", "large"],
                   help="scale of the synthetic data (small is for smoke tests)")
    a = p.parse_args(argv)
    if a.name != "all" and a.name not in names:
        p.error(f"unknown workload {a.name!r}; choose from {', '.join(names)} or 'all'")
    failed = False
    for name in names if a.name == "all" else [a.name]:
        mod = importlib.import_module(f"bench.{name}")
        for row in mod.run(a.size):
            print(json.dumps(row), flush=True)
            failed |= row.get("ok") is False
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
