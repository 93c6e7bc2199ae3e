"""The one typed settings object for every Tablepulse process: a leaf module that the collector, the
dashboard and the digest import, and that imports none of them (tests/test_import_contract.py).

Each setting is declared once below (name, type, default, bounds, help). Values come from the
defaults, then a TOML file (``tablepulse.toml`` in the working directory or ``TABLEPULSE_CONFIG``),
then ``TABLEPULSE_<NAME>`` environment variables. The README's configuration table is checked
against this list by ``tests/test_settings.py``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "TABLEPULSE_"
CONFIG_ENV = "TABLEPULSE_CONFIG"
DEFAULT_CONFIG_FILE = "tablepulse.toml"
DEMO_WRITE_KEY = "tp-demo-write-key"  # printed in the README: fine on loopback only


def parse_hhmm(text: object) -> tuple[int, int]:
    """'HH:MM' (24-hour, two digits each) -> (hour, minute); ValueError naming the value otherwise.
    The one HH:MM parser of the product: settings, the provider's time slots, tracking's goal times."""
    hh, sep, mm = text.partition(":") if isinstance(text, str) else ("", "", "")
    if not (sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()
            and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"{text!r} is not a time HH:MM")
    return int(hh), int(mm)


class SettingsError(ValueError):
    """A setting was missing, of the wrong type or out of bounds; the message names it."""


def _s(default: Any, help: str, lo: float | None = None, hi: float | None = None,
       choices: tuple[str, ...] | None = None, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "lo": lo, "hi": hi, "choices": choices,
                                            "secret": secret})


def _sl(default: list[Any], help: str, secret: bool = False) -> Any:
    return field(default_factory=lambda: list(default), metadata={"help": help, "lo": None, "hi": None,
                                                                  "choices": None, "secret": secret})


@dataclass(frozen=True)
class Settings:
    # --- storage -------------------------------------------------------------------------
    db_path: str = _s("data/tablepulse.duckdb", "The live DuckDB file; only the collector service opens it read-write.")
    snapshot_path: str = _s("data/tablepulse.snapshot.duckdb", "Read-only copy published for the dashboard, digest and notebooks.")
    snapshot_interval_s: int = _s(30, "Seconds between snapshot publications (also published after each nightly job).", 5, 3600)

    # --- upstream provider ---------------------------------------------------------------
    provider: str = _s("resy", "Provider module to poll.", choices=("resy",))
    upstream_url: str = _s("http://127.0.0.1:8070", "Base URL of the provider API: the bundled simulator by default, https://api.resy.com for the real one.")
    api_key: str = _s("tablepulse-sim-key", "Provider API key sent as `Authorization: ResyAPI api_key=...` (the simulator's default key; set your own for the real provider).", secret=True)
    auth_token: str = _s("", "Optional user auth token (x-resy-auth-token) for the real provider.", secret=True)
    connect_timeout_s: float = _s(3.0, "HTTP connect timeout.", 0.1, 60)
    read_timeout_s: float = _s(10.0, "HTTP read timeout per page.", 0.1, 120)
    pool_timeout_s: float = _s(5.0, "Seconds to wait for a free HTTP connection from the pool.", 0.1, 60)
    max_retries: int = _s(3, "Retries per page request for retryable outcomes (429, 5xx, timeout).", 0, 10)
    retry_budget: float = _s(0.2, "Share of requests that may be retries over the last minute before retries stop.", 0.0, 1.0)
    backoff_base_s: float = _s(0.5, "Base of the capped exponential backoff with full jitter.", 0.01, 60)
    backoff_cap_s: float = _s(30.0, "Cap of the exponential backoff.", 0.1, 600)
    rate_limit_per_s: float = _s(10.0, "Requests per second allowed to the provider (token bucket).", 0.1, 1000)
    breaker_failures: int = _s(5, "Consecutive failed polls that open the circuit breaker.", 1, 100)
    breaker_reset_s: float = _s(60.0, "Seconds the breaker stays open before one trial poll.", 1, 3600)

    # --- buckets and polling -------------------------------------------------------------
    window_days: int = _s(14, "Days ahead to watch, today included.", 1, 60)
    time_slots: list[str] = _sl(["15:00", "19:00"], "Bucket time slots (HH:MM, venue-local).")
    prime_time_slots: list[str] = _sl(["19:00"], "Which of the time slots count as prime time.")
    party_sizes: list[int] = _sl([2, 4], "Party sizes polled for every bucket.")
    bucket_cooldown_s: float = _s(30.0, "Minimum seconds between two polls of the same bucket and party size.", 5, 86400)
    max_in_flight: int = _s(8, "Bucket polls in flight at once.", 1, 64)
    calibration_polls: int = _s(3, "Polls whose union (empty ones skipped) forms a new bucket's baseline.", 1, 20)
    collapse_share: float = _s(0.8, "A poll that loses at least this share of the live open slots at once, more than the bucket's own close rate makes plausible, is held untrusted (docs/trust-rules.md, rule L).", 0.1, 1.0)
    collapse_confirm_s: float = _s(300.0, "A held collapse is believed only when three or more consecutive agreeing answers span at least this many seconds; a failed poll between them starts the streak again.", 0, 86400)
    max_gap_s: float = _s(3600.0, "Longest gap between two trusted polls of a bucket that still vouches for a slot staying open; across a longer gap intervals are censored and restarted, and the nightly job excludes the gap from observed time.", 60, 86400)
    expiry_guard_minutes: int = _s(60, "A slot that disappears within this many minutes of its start is an expiry (booking cut-off), not a CLOSED.", 0, 1440)
    timezone: str = _s("America/New_York", "Market timezone: day boundaries for buckets, nightly job and digests.")

    # --- nightly job and metrics -----------------------------------------------------------
    nightly_at: str = _s("04:00", "Local time (HH:MM) the nightly aggregate-then-prune job runs.")
    raw_retention_days: int = _s(14, "Days of raw availability events kept before the nightly prune.", 1, 365)
    min_sample: int = _s(10, "Minimum sample size; metric rows below it are flagged thin and left out of rankings.", 1, 10000)

    # --- tracking endpoint ------------------------------------------------------------------
    tracking_host: str = _s("127.0.0.1", "Interface the collector's HTTP endpoint (tracking + health) listens on.")
    tracking_port: int = _s(8071, "Port of the collector's HTTP endpoint (tracking + health); 0 picks a free port.", 0, 65535)
    write_keys: list[str] = _sl([DEMO_WRITE_KEY], "Write keys accepted by the tracking endpoint (Authorization: Bearer KEY); the demo key is for loopback only.", secret=True)
    cors_origins: list[str] = _sl([], "Origins allowed to call the tracking endpoint from a browser.")
    max_clock_skew_s: int = _s(3600, "Largest client clock skew corrected; beyond it the correction is clamped.", 0, 86400)
    tap_window_s: int = _s(1800, "Conversion window from alert_sent to tap_to_reserve.", 1, 604800)
    book_window_s: int = _s(86400, "Conversion window from alert_sent to booking_confirmed.", 1, 2592000)
    writer_queue_max: int = _s(10000, "Pending write requests before the endpoint answers 503 with Retry-After.", 10, 1000000)

    # --- simulator and launcher -------------------------------------------------------------
    sim_seed: int = _s(7, "Seed of the bundled simulated market.", 0, 2**31 - 1)
    sim_venues: int = _s(400, "Venues in the simulated market.", 1, 20000)
    sim_port: int = _s(8070, "Port of the simulated market; 0 picks a free port.", 0, 65535)
    history_days: int = _s(7, "Days of history built by fast-forwarding the simulator on first start.", 0, 60)
    history_poll_interval_s: int = _s(3600, "Simulated seconds between history rounds: today's and tomorrow's buckets are polled every round, later dates every 12th (live polling uses bucket_cooldown_s). Finer is truer and slower: 1800 doubles the first-run build.", 5, 86400)
    dashboard_port: int = _s(8501, "Port of the Streamlit dashboard; 0 picks a free port.", 0, 65535)
    log_level: str = _s("INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    def replace(self, **changes: Any) -> Settings:
        return validate(dataclasses.replace(self, **changes))

    def public_items(self) -> dict[str, Any]:
        """Settings as a dict with every setting flagged ``secret`` masked (for `tablepulse settings`,
        logs and the health report): a list of secrets shows how many there are, not what they are."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.metadata["secret"] and v:
                v = ["***"] * len(v) if isinstance(v, list) else "***"
            out[f.name] = v
        return out


SETTINGS_FIELDS = {f.name: f for f in fields(Settings)}


def _field_type(name: str) -> str:
    t = SETTINGS_FIELDS[name].type
    return t if isinstance(t, str) else getattr(t, "__name__", str(t))


def _coerce(name: str, value: Any, from_env: bool) -> Any:
    typ = _field_type(name)
    try:
        if typ == "int":
            if isinstance(value, bool) or (not from_env and not isinstance(value, int)):
                raise TypeError
            return int(value)
        if typ == "float":
            if isinstance(value, bool) or (not from_env and not isinstance(value, int | float)):
                raise TypeError
            return float(value)
        if typ == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
        if typ.startswith("list"):
            inner = int if "int" in typ else str
            if from_env and isinstance(value, str):
                items = [p.strip() for p in value.split(",") if p.strip()]
            elif isinstance(value, list):
                items = value
            else:
                raise TypeError
            return [inner(v) for v in items]
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name!r}: expected {typ}, got {value!r}") from None
    raise SettingsError(f"setting {name!r}: unsupported type {typ}")


def validate(s: Settings) -> Settings:
    for f in fields(s):
        v = getattr(s, f.name)
        lo, hi, choices = f.metadata["lo"], f.metadata["hi"], f.metadata["choices"]
        if lo is not None and v < lo:
            raise SettingsError(f"setting {f.name!r}: {v} is below the minimum {lo}")
        if hi is not None and v > hi:
            raise SettingsError(f"setting {f.name!r}: {v} is above the maximum {hi}")
        if choices and v not in choices:
            raise SettingsError(f"setting {f.name!r}: {v!r} is not one of {', '.join(choices)}")
    for t in [*s.time_slots, *s.prime_time_slots, s.nightly_at]:
        try:
            parse_hhmm(t)
        except ValueError as e:
            raise SettingsError(f"time {e}") from None
    if not set(s.prime_time_slots) <= set(s.time_slots):
        raise SettingsError("setting 'prime_time_slots': every prime slot must be one of time_slots")
    if not s.party_sizes or any(p < 1 or p > 20 for p in s.party_sizes):
        raise SettingsError("setting 'party_sizes': party sizes must be between 1 and 20")
    if not s.time_slots:
        raise SettingsError("setting 'time_slots': at least one time slot is needed")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(s.timezone)
    except Exception:
        raise SettingsError(f"setting 'timezone': unknown timezone {s.timezone!r}") from None
    return s


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
         **overrides: Any) -> Settings:
    """Defaults < TOML file < environment < explicit overrides (e.g. CLI flags)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    cfg = Path(path) if path else Path(env.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
    if path or CONFIG_ENV in env or cfg.exists():
        try:
            data = tomllib.loads(cfg.read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file {str(cfg)!r} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config file {str(cfg)!r} is not valid TOML: {e}") from None
        data = data.get("tablepulse", data)
        for k, v in data.items():
            if k not in SETTINGS_FIELDS:
                raise SettingsError(f"config file {str(cfg)!r}: unknown setting {k!r}")
            values[k] = _coerce(k, v, from_env=False)
    for k, v in env.items():
        if k.startswith(ENV_PREFIX) and k != CONFIG_ENV:
            name = k[len(ENV_PREFIX):].lower()
            if name not in SETTINGS_FIELDS:
                raise SettingsError(f"environment variable {k}: unknown setting {name!r}")
            values[name] = _coerce(name, v, from_env=True)
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in SETTINGS_FIELDS:
            raise SettingsError(f"unknown setting {k!r}")
        values[k] = _coerce(k, v, from_env=isinstance(v, str))
    return validate(Settings(**values))


def settings_table() -> list[tuple[str, str, str]]:
    """(name, default, help) rows for docs and `tablepulse settings`."""
    rows = []
    for f in fields(Settings):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc,operator]
        rows.append((f.name, repr(default) if not isinstance(default, str) else default, f.metadata["help"]))
    return rows
