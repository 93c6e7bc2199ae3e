"""A collected database built once per session through the real pipeline (tests/pipeline.py):
40 venues, 7 simulated days, one prime bucket (19:00, party 2), polls every 120 s from 10:00 to
24:00 local, the nightly job at each day boundary. Building it costs minutes, so it is shared.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ is not a package and pytest puts only this folder on sys.path: make tests.pipeline importable.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from simulator.model import Market  # noqa: E402
from tests.pipeline import Collected, build_collected_db  # noqa: E402

GT = dict(venues=40, days=7, poll_interval_s=120, seed=11, window_days=2, time_slots=("19:00",),
          party_sizes=(2,), hours=(10, 24))


@pytest.fixture(scope="session")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collected]:
    # The pipeline drops the simulator's truth for past dates each night to bound memory; the
    # ground-truth checks need all 7 days of it (40 venues x 9 dates x 1 party class: small).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Market, "forget_before", lambda self, day: 0)
        c = build_collected_db(tmp_path_factory.mktemp("gt"), **GT)  # type: ignore[arg-type]
    yield c
