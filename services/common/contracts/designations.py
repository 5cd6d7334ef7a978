"""Designation levels and the in-force rule, once for the registry and the roll-up."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql import ColumnElement

# Levels, in order of rank. Labels are what a clerk sees on a certificate.
LEVEL_LABELS: dict[str, str] = {
    "national": "国家级",
    "provincial": "省级",
    "municipal": "市级",
    "district": "区级",
}
LEVELS: tuple[str, ...] = tuple(LEVEL_LABELS)


def is_in_force(
    *, granted_on: date, expires_on: date | None, revoked_on: date | None, on: date
) -> bool:
    """Whether a designation holds on `on`: from grant through `expires_on`, until revoked."""
    if on < granted_on:
        return False
    if expires_on is not None and on > expires_on:
        return False
    return revoked_on is None or on < revoked_on


def in_force_on(columns: Any, on: Any) -> ColumnElement[bool]:
    """`is_in_force` as SQL over `columns` (anything with granted_on, expires_on, revoked_on).

    `on` is a date or a column, so the roll-up can judge each row on its own date.
    """
    return and_(
        columns.granted_on <= on,
        or_(columns.expires_on.is_(None), columns.expires_on >= on),
        or_(columns.revoked_on.is_(None), columns.revoked_on > on),
    )
