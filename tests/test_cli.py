"""The `tablepulse` command line: bad arguments get a clear error naming what was wrong."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "collector", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.parametrize("args, needle", [
    (["aggregate", "--from", "2026-11-01"], "--from and --to go together"),
    (["aggregate", "--date", "2026-13-01"], "is not a date"),
    (["aggregate", "--from", "2026-11-05", "--to", "2026-11-01"], "is after"),
    (["bogus"], "invalid choice"),
    (["market", "--venues", "-3"], "venues"),
])
def test_bad_arguments_are_named(args, needle):
    r = run(*args)
    assert r.returncode != 0
    assert needle in r.stderr


def test_bad_configuration_is_named(tmp_path):
    import os

    env = dict(os.environ, TABLEPULSE_WINDOW_DAYS="zero")
    r = run("settings", env=env)
    assert r.returncode == 2 and "window_days" in r.stderr


def test_settings_lists_every_setting_with_secrets_masked():
    import os

    env = dict(os.environ, TABLEPULSE_API_KEY="s3cret")
    r = run("settings", env=env)
    assert r.returncode == 0 and "bucket_cooldown_s" in r.stdout
    assert "s3cret" not in r.stdout
