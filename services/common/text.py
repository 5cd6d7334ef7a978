"""Text people send: trimmed, and refused when it holds control characters.

Every request body of the services mixes in `CleanText`: a string field is stripped of leading
and trailing whitespace before its constraints apply (so a name of blanks is too short, 422),
and refused when it holds a control character (C0, DEL, C1), naming the field. Free-text fields
(`FREE_TEXT_FIELDS`: notes, descriptions, resolutions) may hold tabs and line breaks. A date
field takes only a `YYYY-MM-DD` date within range (`services.common.days.check_day`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, get_args

from pydantic import ValidationInfo, field_validator
from sqlmodel import SQLModel

from services.common.days import check_day
from services.common.labels import MESSAGES

FREE_TEXT_FIELDS = frozenset({"note", "description", "resolution"})
LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NOTE_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(value: str, *, free_text: bool = False) -> str:
    """The text trimmed; ValueError naming the first control character it holds."""
    value = value.strip()
    found = (NOTE_CONTROLS if free_text else LINE_CONTROLS).search(value)
    if found:
        allowed, allowed_zh = (
            ("only tabs and line breaks are allowed", "只允许制表符和换行")
            if free_text
            else ("one line of text", "应为单行文本")
        )
        raise ValueError(
            MESSAGES(
                "control_at",
                code=f"{ord(found.group()):04X}",
                position=found.start() + 1,
                allowed=allowed,
                allowed_zh=allowed_zh,
            )
        )
    return value


def refuse_controls(value: str) -> str:
    """A spreadsheet cell's text: invisible controls refused, tabs and line breaks kept."""
    found = NOTE_CONTROLS.search(value)
    if found:
        raise ValueError(MESSAGES("control", code=f"{ord(found.group()):04X}"))
    return value


class CleanText(SQLModel):
    """Mixed into request bodies: every string field trimmed and free of control characters."""

    @field_validator("*", mode="before", check_fields=False)
    @classmethod
    def _clean_text(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and value is not None and _is_date(field.annotation):
            return check_day(value)
        if isinstance(value, str):
            return clean(value, free_text=info.field_name in FREE_TEXT_FIELDS)
        return value


def _is_date(annotation: Any) -> bool:
    """`date` or `date | None` (not datetime, which is a subclass of date)."""
    options = get_args(annotation) or (annotation,)
    return any(option is date for option in options)
