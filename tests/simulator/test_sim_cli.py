"""The simulator's command line: clear one-line errors with exit 2, and a served market that stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from simulator.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["serve", "--venues", "-3"], "--venues must be between 1 and 20000"),
    (["serve", "--venues", "many"], "--venues must be an integer"),
    (["serve", "--start", "yesterday"], "--start must be an ISO 8601 date-time"),
    (["serve", "--speed", "-1"], "--speed must be between"),
    (["serve", "--port", "70000"], "--port must be between 0 and 65535"),
    (["serve", "--fault", "gremlins"], "unknown fault kind 'gremlins'"),
    (["serve", "--fault", "rate_limit:count=zero"], "count must be an integer"),
    (["serve", "--api-key", ""], "--api-key must not be empty"),
])
def test_bad_options_exit_2_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for opt in ("--host", "--port", "--seed", "--venues", "--speed", "--start", "--api-key", "--fault"):
        assert opt in out
    assert "rate_limit_date" in out and "missing_page" in out


def test_serve_prints_url_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", "0", "--venues", "30",
                             "--speed", "0", "--start", "2026-11-23T17:00:00", "--seed", "3",
                             "--fault", "http_503:count=1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("simulator listening on http://127.0.0.1:")
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert httpx.get(url + "/_sim/health").json() == {"ok": True, "venues": 30, "seed": 3}
        assert httpx.get(url + "/_sim/clock").json() == {"now": "2026-11-23T17:00:00", "speed": 0.0}
        assert httpx.get(url + "/_sim/faults").json()["rules"][0]["kind"] == "http_503"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
