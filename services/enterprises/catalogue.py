"""Enterprise catalogue: industries, sizes, source channels and chains, with Chinese labels, and
the registry's use of the designation types (the types themselves are contracts: see
services/common/contracts/designations.py)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import date

from services.common.contracts.designations import (
    CALENDAR_YEAR,
    DESIGNATION_TYPES,
    LEVEL_LABELS,
    LEVELS,
    DesignationType,
    Validity,
)
from services.common.errors import Invalid
from services.enterprises.labels import MESSAGES, level_label, listed, type_label

# GB/T 4754-2017 门类 (sections).
INDUSTRY_SECTIONS: dict[str, str] = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}

# Enterprise size classes of the national statistical standard (统计上大中小微型企业划分办法).
SIZE_LABELS: dict[str, str] = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}

# How an enterprise came to the district (来源渠道): a closed list, so the plan's selectors
# (article 80's 大学生创业…) can match what clerks record.
SOURCE_CHANNEL_LABELS: dict[str, str] = {
    "investment_promotion": "招商引资",
    "local_cultivation": "本地培育",
    "graduate_startup": "大学生创业",
    "returnee_startup": "返乡创业",
    "other": "其他",
}

# The plan's key fields: article 7 names five; articles 14, 18, 23 and 64 add new energy,
# the digital economy and medical devices.
KEY_INDUSTRY_CHAINS: tuple[str, ...] = (
    "信息技术",
    "智能制造",
    "海工装备",
    "生物医药",
    "新材料",
    "新能源",
    "数字经济",
    "医疗器械",
)


class UnknownDesignationType(Invalid):
    """The designation type is not in the catalogue."""


class InvalidLevel(Invalid):
    """The level is unknown or not one the designation type is granted at."""


def designation_type(key: str) -> DesignationType:
    """The catalogue entry for `key`, or `UnknownDesignationType` listing the known keys."""
    try:
        return DESIGNATION_TYPES[key]
    except KeyError:
        raise UnknownDesignationType(
            MESSAGES("type.unknown", value=key, known=", ".join(DESIGNATION_TYPES)), loc=["type"]
        ) from None


def resolve_level(type_key: str, level: str | None = None) -> str:
    """The level to record: the type's default when none is given, else a checked `level`."""
    entry = designation_type(type_key)
    if level is None:
        return entry.default_level
    if level not in LEVEL_LABELS:
        raise InvalidLevel(
            MESSAGES("level.unknown", level=level, allowed=", ".join(LEVELS)), loc=["level"]
        )
    if level not in entry.levels:
        raise InvalidLevel(
            MESSAGES(
                "level.not_granted",
                label=type_label(type_key),
                level=level_label(level),
                allowed=listed(level_label(k) for k in entry.levels),
            ),
            loc=["level"],
        )
    return level


def validity_of(
    type_key: str, *, overrides: Mapping[str, int | str | None] | None = None
) -> Validity:
    """The validity rule in force for a type: a configured override, else the catalogue's.

    An override of N ≥ 1 means N years, 0 (or "calendar_year") means until the end of the
    granted year, and None means no expiry.
    """
    entry = designation_type(type_key)
    if overrides is None or type_key not in overrides:
        return entry.validity
    years = overrides[type_key]
    if years is None:
        return None
    if years == CALENDAR_YEAR or years == 0:
        return CALENDAR_YEAR
    if not isinstance(years, int) or years < 0:
        raise ValueError(
            f"validity override for {type_key!r} must be a number of years ≥ 0, "
            f"{CALENDAR_YEAR!r} or None; got {years!r}"
        )
    return years


def _add_years(day: date, years: int) -> date:
    year = day.year + years
    # A 29 February grant expires on 28 February in a common year.
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def default_expiry(
    type_key: str, granted_on: date, *, overrides: Mapping[str, int | str | None] | None = None
) -> date | None:
    """The last day a designation granted on `granted_on` holds, or None if it does not lapse.

    Year-based validity ends on the anniversary (3 years for 高新技术企业 granted 2023-05-10 →
    2026-05-10); `calendar_year` ends on 31 December of the granted year.
    """
    rule = validity_of(type_key, overrides=overrides)
    if rule is None:
        return None
    if isinstance(rule, str):  # the one string rule is CALENDAR_YEAR
        return date(granted_on.year, 12, 31)
    return _add_years(granted_on, rule)


def industry_chains(configured: Iterable[str] | None = None) -> tuple[str, ...]:
    """The industry chains in use: the configured list (trimmed, de-duplicated) or the plan's."""
    if configured is None:
        return KEY_INDUSTRY_CHAINS
    chains = dict.fromkeys(c.strip() for c in configured if c and c.strip())
    return tuple(chains) or KEY_INDUSTRY_CHAINS
