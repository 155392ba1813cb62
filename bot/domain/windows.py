"""Deploy windows: is one open at `now`, and when does the next one open? Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.domain.policy import DeployWindow

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _openings(window: DeployWindow, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The window's (start, end) intervals that begin from yesterday to a week ahead, in UTC."""
    zone = ZoneInfo(window.timezone)
    local_today = now.astimezone(zone).date()
    spans = []
    for offset in range(-1, 8):
        day = local_today + dt.timedelta(days=offset)
        if _DAY_NAMES[day.weekday()] not in window.days:
            continue
        start = dt.datetime.combine(day, window.start, tzinfo=zone)
        end_day = day if window.end > window.start else day + dt.timedelta(days=1)
        end = dt.datetime.combine(end_day, window.end, tzinfo=zone)
        spans.append((start.astimezone(dt.UTC), end.astimezone(dt.UTC)))
    return spans


def is_open(windows: Sequence[DeployWindow], now: dt.datetime) -> bool:
    """True when no windows are configured or `now` falls inside one."""
    if not windows:
        return True
    return any(start <= now < end for w in windows for start, end in _openings(w, now))


def next_opening(windows: Sequence[DeployWindow], now: dt.datetime) -> dt.datetime | None:
    """When the next window opens after `now` (UTC); None without windows."""
    starts = [start for w in windows for start, _ in _openings(w, now) if start > now]
    return min(starts) if starts else None
