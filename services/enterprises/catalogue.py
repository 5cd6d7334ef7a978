"""Enterprise catalogue: designation types, levels, industries and chains, with Chinese labels."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from services.common.contracts.designations import LEVEL_LABELS, LEVELS
from services.common.errors import Invalid
from services.enterprises.labels import MESSAGES

CALENDAR_YEAR: Final = "calendar_year"
"""Validity rule: the designation holds until 31 December of the year it was granted."""

Validity = int | Literal["calendar_year"] | None
"""Years from `granted_on`, `"calendar_year"`, or `None` for no expiry."""

_ALL_LEVELS = LEVELS
_PROVINCIAL_UP = ("national", "provincial")
_MUNICIPAL_UP = ("national", "provincial", "municipal")


@dataclass(frozen=True, slots=True)
class DesignationType:
    """A status an enterprise can be granted, with the plan articles that count it."""

    key: str
    label: str
    levels: tuple[str, ...]
    default_level: str
    validity: Validity = None
    clauses: tuple[str, ...] = ()
    items: bool = False
    """The plan counts these as things (labs, products, stores…), not as firms: one enterprise
    may hold several at once, each named by its `item_name`, and targets count items."""


def _t(
    key: str,
    label: str,
    levels: tuple[str, ...],
    default_level: str,
    *,
    validity: Validity = None,
    clauses: tuple[str, ...] = (),
    items: bool = False,
) -> tuple[str, DesignationType]:
    return key, DesignationType(key, label, levels, default_level, validity, clauses, items)


DESIGNATION_TYPES: dict[str, DesignationType] = dict(
    [
        # Technology enterprises (articles 7, 55)
        _t("high_tech", "高新技术企业", ("national",), "national", validity=3, clauses=("7",)),
        _t(
            "tech_sme",
            "科技型中小企业",
            ("national",),
            "national",
            validity=CALENDAR_YEAR,
            clauses=("7",),
        ),
        _t(
            "specialised_sme",
            "专精特新中小企业",
            ("provincial", "municipal"),
            "provincial",
            validity=3,
            clauses=("7", "55"),
        ),
        _t(
            "little_giant",
            "专精特新“小巨人”企业",
            ("national",),
            "national",
            validity=3,
            clauses=("7", "55"),
        ),
        _t(
            "single_champion",
            "制造业单项冠军企业",
            _PROVINCIAL_UP,
            "provincial",
            validity=3,
            clauses=("7", "55"),
        ),
        _t("gazelle", "瞪羚企业", _MUNICIPAL_UP, "provincial", clauses=("55",)),
        _t("unicorn", "独角兽企业", _MUNICIPAL_UP, "provincial", clauses=("55",)),
        _t("innovative_leading", "创新型领军企业", _ALL_LEVELS, "district", clauses=("7",)),
        _t(
            "tech_innovation_demo",
            "技术创新示范企业",
            _MUNICIPAL_UP,
            "national",
            clauses=("7",),
        ),
        # Innovation platforms hosted by enterprises (articles 3, 4)
        _t(
            "innovation_platform",
            "创新平台",
            _MUNICIPAL_UP,
            "municipal",
            clauses=("3",),
            items=True,
        ),
        _t(
            "manufacturing_innovation_center",
            "制造业创新中心",
            _MUNICIPAL_UP,
            "provincial",
            clauses=("3",),
            items=True,
        ),
        _t(
            "one_tech_rd_center",
            "“一企一技术”研发中心",
            ("provincial", "municipal"),
            "provincial",
            clauses=("3",),
            items=True,
        ),
        _t(
            "tech_innovation_center",
            "技术创新中心",
            _MUNICIPAL_UP,
            "provincial",
            clauses=("3",),
            items=True,
        ),
        _t("key_laboratory", "重点实验室", _MUNICIPAL_UP, "provincial", clauses=("4",), items=True),
        _t(
            "engineering_research_center",
            "工程研究中心",
            _MUNICIPAL_UP,
            "provincial",
            clauses=("3",),
            items=True,
        ),
        _t("enterprise_tech_center", "企业技术中心", _MUNICIPAL_UP, "provincial", clauses=("3",)),
        # Manufacturing upgrade, digital and green (articles 15, 18, 21, 27, 29)
        _t(
            "industrial_internet_platform",
            "工业互联网平台",
            _MUNICIPAL_UP,
            "provincial",
            clauses=("21",),
            items=True,
        ),
        _t(
            "digital_transformation",
            "数字化转型标杆企业",
            _MUNICIPAL_UP,
            "municipal",
            clauses=("18", "21"),
        ),
        _t("smart_factory", "智能工厂", _MUNICIPAL_UP, "provincial", clauses=("21", "29")),
        _t(
            "service_manufacturing",
            "服务型制造企业（平台）",
            _MUNICIPAL_UP,
            "provincial",
            clauses=("21",),
        ),
        _t("green_factory", "绿色工厂", _MUNICIPAL_UP, "municipal", clauses=("15",)),
        _t("green_park", "绿色园区", _MUNICIPAL_UP, "municipal", clauses=("15",)),
        _t(
            "green_design_product",
            "绿色设计产品",
            _MUNICIPAL_UP,
            "national",
            clauses=("15",),
            items=True,
        ),
        _t(
            "quality_benchmark",
            "制造业“质量标杆”",
            ("provincial",),
            "provincial",
            clauses=("27",),
            items=True,
        ),
        _t("time_honoured_brand", "老字号", _MUNICIPAL_UP, "provincial", clauses=("27",)),
        _t(
            "integration_pilot",
            "先进制造业和现代服务业融合发展试点",
            _PROVINCIAL_UP,
            "provincial",
            clauses=("29",),
        ),
        # Headquarters, finance, trade and services (articles 17, 19, 30, 35)
        _t(
            "headquarters",
            "总部企业",
            ("provincial", "municipal", "district"),
            "provincial",
            clauses=("17",),
        ),
        _t("first_store", "品牌首店", _ALL_LEVELS, "municipal", clauses=("19", "35"), items=True),
        _t(
            "financial_institution",
            "现代金融机构",
            ("district",),
            "district",
            clauses=("19",),
        ),
        _t(
            "trade_above_quota",
            "限额以上商贸流通企业",
            ("district",),
            "district",
            clauses=("19",),
        ),
        _t(
            "service_above_scale",
            "规模以上服务业企业",
            ("district",),
            "district",
            clauses=("30",),
        ),
        _t("listed_company", "上市公司", ("national",), "national", clauses=("19", "59")),
        _t("platform_economy", "平台经济企业", _ALL_LEVELS, "district", clauses=("19",)),
        # Champions and first-class enterprises (article 56)
        _t(
            "world_class_candidate",
            "世界一流企业创建单位",
            _PROVINCIAL_UP,
            "provincial",
            clauses=("56",),
        ),
        _t(
            "national_first_class_candidate",
            "全国一流企业创建单位",
            _PROVINCIAL_UP,
            "provincial",
            clauses=("56",),
        ),
        _t(
            "shandong_first_class_candidate",
            "山东一流企业创建单位",
            ("provincial",),
            "provincial",
            clauses=("56",),
        ),
        # Resources, care and trade (articles 23, 39, 66)
        _t("water_saving_enterprise", "节水型企业", _MUNICIPAL_UP, "municipal", clauses=("39",)),
        _t(
            "water_saving_institution",
            "节水型公共机构",
            _MUNICIPAL_UP,
            "municipal",
            clauses=("39",),
        ),
        _t(
            "medical_elderly_care",
            "医养结合机构",
            ("district",),
            "district",
            clauses=("23",),
        ),
        _t(
            "foreign_trade_over_10m_usd",
            "进出口过千万美元企业",
            ("district",),
            "district",
            validity=CALENDAR_YEAR,
            clauses=("66",),
        ),
        # Honours held by organisations (articles 69, 85, 87); the plan gives them no term.
        _t("civilised_unit", "文明单位", _ALL_LEVELS, "municipal", clauses=("69",)),
        _t("civilised_community", "文明社区", _ALL_LEVELS, "municipal", clauses=("69",)),
        _t("civilised_campus", "文明校园", _ALL_LEVELS, "municipal", clauses=("69",)),
        _t(
            "clinical_key_specialty",
            "临床重点专科",
            _MUNICIPAL_UP,
            "municipal",
            clauses=("85",),
            items=True,
        ),
        _t(
            "tcm_expert_studio",
            "名中医药专家传承工作室",
            _MUNICIPAL_UP,
            "municipal",
            clauses=("87",),
            items=True,
        ),
    ]
)
DESIGNATION_LABELS: dict[str, str] = {k: t.label for k, t in DESIGNATION_TYPES.items()}
ITEM_TYPES: frozenset[str] = frozenset(k for k, t in DESIGNATION_TYPES.items() if t.items)
"""Designation types counted as items (see DesignationType.items)."""

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
                label=entry.label,
                type=type_key,
                level=level,
                allowed=", ".join(entry.levels),
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
