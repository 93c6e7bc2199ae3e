"""The `tablepulse` command line: bad arguments get a clear error naming what was wrong."""

import re
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

    env = dict(os.environ, TABLEPULSE_API_KEY="s3cret", TABLEPULSE_AUTH_TOKEN="t0ken-secret",
               TABLEPULSE_WRITE_KEYS="wk-first-secret,wk-second-secret")
    r = run("settings", env=env)
    assert r.returncode == 0 and "bucket_cooldown_s" in r.stdout
    for secret in ("s3cret", "t0ken-secret", "wk-first-secret", "wk-second-secret"):
        assert secret not in r.stdout
    assert re.search(r"write_keys +\['\*\*\*', '\*\*\*'\]", r.stdout), r.stdout
    # the default (the demo key) is not printed either
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABLEPULSE_")}
    r = run("settings", env=env)
    assert r.returncode == 0 and "tp-demo-write-key" not in r.stdout and "write_keys" in r.stdout
