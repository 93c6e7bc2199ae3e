"""Provider clients behind one interface (base.Provider); make_provider picks one by settings.provider.

Called by the collector's poller and CLI; a new provider is one module plus one line in PROVIDERS.
"""

from __future__ import annotations

from typing import Any

from collector.providers.base import Outcome, PollResult, Provider, SlotKey, VenueInfo
from collector.providers.resy import ResyProvider
from tablepulse_settings import Settings

PROVIDERS: dict[str, type[ResyProvider]] = {"resy": ResyProvider}


def make_provider(settings: Settings, **kw: Any) -> Provider:
    """Build the configured provider; `kw` (transport, sleep, monotonic, rng, wall_clock) is for tests."""
    try:
        cls = PROVIDERS[settings.provider]
    except KeyError:
        raise ValueError(f"unknown provider {settings.provider!r}; known: {', '.join(PROVIDERS)}") from None
    return cls(settings, **kw)


__all__ = ["Outcome", "PollResult", "Provider", "ResyProvider", "SlotKey", "VenueInfo",
           "make_provider"]
