"""THE business date: the district's calendar day, one definition for every process.

A certificate lapses, a stage is entered and a target is judged on the day as it is in the
district (Asia/Shanghai unless `PLANTRACK_TIMEZONE` says otherwise), not in UTC: at 23:30 UTC
it is already tomorrow in Yantai. `PLANTRACK_TODAY` pins the date (demos, drills). The clock
is injectable, so a test can pin the UTC instant instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from services.common.settings import Settings

DEFAULT_TIMEZONE = "Asia/Shanghai"

PLAN_YEARS = range(2023, 2026)
"""The years the three-year plan (2023—2025) covers."""

Clock = Callable[[], datetime]
"""Returns the current instant (timezone-aware)."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Answers "what day is it in the district?" from a clock, a timezone and an optional pin."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    fixed: date | None = None
    clock: Clock = system_clock

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> BusinessCalendar:
        return cls(
            timezone=ZoneInfo(settings.timezone),
            fixed=date.fromisoformat(settings.today) if settings.today else None,
            clock=clock or system_clock,
        )

    def today(self) -> date:
        """The business date: the pinned date if any, else the clock's instant in the district."""
        if self.fixed is not None:
            return self.fixed
        return self.clock().astimezone(self.timezone).date()


def business_date(settings: Settings | None = None, *, clock: Clock | None = None) -> date:
    """The business date under `settings` (the process's own when omitted)."""
    if settings is None:
        from services.common.settings import get_settings

        settings = get_settings()
    return BusinessCalendar.from_settings(settings, clock=clock).today()


def plan_year(today: date) -> int:
    """The plan year a page opens on: the business date's, kept inside the plan's years."""
    return min(max(today.year, PLAN_YEARS[0]), PLAN_YEARS[-1])
