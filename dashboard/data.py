"""The dashboard's only data access: cached loaders around analytics.views (one typed function per
view, same name and arguments minus the connection: ``data.ranking(f, min_n)``).

Every loader takes plain, hashable arguments (paths, dates, a frozen Filters). Cache misses read
through one short read-only connection per script run (snapshot first, live file as fallback:
analytics.db.read_connection): the first miss of a page run opens it, the run's other misses share
it, and ``run_scope`` (around the page in streamlit_app.py) closes it when the run ends. So a page
pays one DuckDB open (~30 ms) instead of one per loader, and every number on it comes from the
same snapshot. Outside a run scope each miss gets its own connection. Nothing here reads a widget;
nothing opens a connection at import.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import duckdb
import streamlit as st

from analytics import views
from analytics.db import NoDatabase, read_connection
from analytics.views import Filters
from tablepulse_settings import Settings, load

P = ParamSpec("P")
R = TypeVar("R")

TTL_S = 30  # the collector publishes a snapshot every ~30 s; fresher reads would show nothing new

__all__ = ["Filters", "NoDatabase", "settings", "paths", "clear"]


@st.cache_resource(ttl=60, show_spinner=False)
def _settings_for(env_key: tuple[str | None, ...]) -> Settings:
    return load()


def settings() -> Settings:
    """Tablepulse settings, re-read when the relevant environment variables change."""
    key = tuple(os.environ.get(k) for k in (
        "TABLEPULSE_CONFIG", "TABLEPULSE_DB_PATH", "TABLEPULSE_SNAPSHOT_PATH",
        "TABLEPULSE_MIN_SAMPLE", "TABLEPULSE_TIMEZONE"))
    return _settings_for(key)


def paths() -> tuple[str, str]:
    s = settings()
    return s.snapshot_path, s.db_path


class _Run(threading.local):
    """Per script-run thread: whether a run scope is open, and the connection it holds."""

    scoped: bool = False
    key: tuple[str, str] | None = None
    held: contextlib.ExitStack | None = None
    con: duckdb.DuckDBPyConnection | None = None


_run = _Run()


@contextlib.contextmanager
def run_scope() -> Iterator[None]:
    """Share one reader connection among the cache misses of a script run; close it at the end."""
    _run.scoped = True
    try:
        yield
    finally:
        _run.scoped = False
        held, _run.held, _run.con, _run.key = _run.held, None, None, None
        if held is not None:
            held.close()


@contextlib.contextmanager
def _reader(snapshot_path: str, db_path: str) -> Iterator[duckdb.DuckDBPyConnection]:
    if not _run.scoped:
        with read_connection(snapshot_path, db_path) as con:
            yield con
        return
    if _run.con is None or _run.key != (snapshot_path, db_path):
        if _run.held is not None:
            _run.held.close()
        stack = contextlib.ExitStack()
        _run.con = stack.enter_context(read_connection(snapshot_path, db_path))
        _run.held, _run.key = stack, (snapshot_path, db_path)
    yield _run.con


_cached_loaders: list[Any] = []      # for clear()


def _loader(fn: Callable[Concatenate[duckdb.DuckDBPyConnection, P], R]) -> Callable[P, R]:
    """analytics.views.FN as a dashboard loader: same arguments minus the connection, through the
    TTL cache (keyed by the database paths and the arguments). Raises NoDatabase."""
    def cached(snapshot_path: str, db_path: str, *args: Any, **kwargs: Any) -> Any:
        with _reader(snapshot_path, db_path) as con:
            return fn(con, *args, **kwargs)

    # Streamlit keys a cached function by its qualified name and source: one name per loader
    cached.__name__ = cached.__qualname__ = f"cached_{fn.__name__}"
    through_cache: Callable[..., Any] = st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=512)(cached)
    _cached_loaders.append(through_cache)

    @functools.wraps(fn)
    def load(*args: P.args, **kwargs: P.kwargs) -> R:
        result: R = through_cache(*paths(), *args, **kwargs)
        return result

    return load


# The loaders the pages call (each is the analytics.views function of the same name).
as_of = _loader(views.as_of)
freshness = _loader(views.freshness)
data_span = _loader(views.data_span)
filter_options = _loader(views.filter_options)
venues = _loader(views.venues)
open_now = _loader(views.open_now)
daily_drops = _loader(views.daily_drops)
ranking = _loader(views.ranking)
venue_summary = _loader(views.venue_summary)
hist = _loader(views.hist)
time_to_close = _loader(views.time_to_close)
time_to_close_curve = _loader(views.time_to_close_curve)
venue_daily = _loader(views.venue_daily)
market_cells = _loader(views.market_cells)
days = _loader(views.days)
market_rolling = _loader(views.market_rolling)
supply = _loader(views.supply)
venue_heatmap = _loader(views.venue_heatmap)
venue_intervals = _loader(views.venue_intervals)
inventory = _loader(views.inventory)
poll_span = _loader(views.poll_span)
poll_health = _loader(views.poll_health)
poll_gaps = _loader(views.poll_gaps)
service_state = _loader(views.service_state)
funnel = _loader(views.funnel)


def clear() -> None:
    for loader in _cached_loaders:
        loader.clear()


def local_now(as_of_utc: datetime | None) -> datetime | None:
    """The data's now (latest trusted poll) in the market's timezone, naive local wall time."""
    if as_of_utc is None:
        return None
    tz = ZoneInfo(settings().timezone)
    return as_of_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None)


def default_range_without_data() -> tuple[date, date]:
    today = datetime.now(ZoneInfo(settings().timezone)).date()
    return today - timedelta(days=13), today


def default_range() -> tuple[date, date]:
    """Last 14 days of data (venue-local), or the 14 days up to today when there is none."""
    first, last = data_span()
    if last is None:
        return default_range_without_data()
    start = last - timedelta(days=13)
    if first is not None and start < first:
        start = first
    return start, last
