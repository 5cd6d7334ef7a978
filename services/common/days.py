"""Dates and instants people send: calendar dates in a sane range, never a bare number.

Pydantic reads `0` or `"0"` as a Unix timestamp (1970-01-01), and a date near year 9999 passes
validation only to overflow the first time a service adds a validity period or a pace to it (a
500). Here a date is `YYYY-MM-DD` text (or a date) between `EARLIEST` and `LATEST`; anything
else is 422 naming the field. `Day` is the query-parameter type, `check_day` what request bodies
apply to their date fields (see `services.common.text.CleanText`), `Instant` a stored time
answered with its offset.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from services.common.labels import MESSAGES

EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_day(value: Any) -> Any:
    """A date's raw input, before parsing: refused unless date-shaped and within range."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str) and _ISO_DAY.match(value.strip()):
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            return value  # let the parser say what is wrong with it
    else:
        raise ValueError(MESSAGES("not_iso_date", value=value))
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(
            MESSAGES("date_range", value=parsed.isoformat(), earliest=EARLIEST, latest=LATEST)
        )
    return parsed


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; every one was written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Day = Annotated[date, BeforeValidator(check_day)]
Instant = Annotated[datetime, AfterValidator(_aware)]
