"""Designation levels and types and the in-force rule, once for the registry and the roll-up.

The types are the words of the designation events' payloads (`designation.type`): the registry
grants them, the roll-up's targets select by them, the dashboard shows their labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

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
LEVEL_LABELS_EN: dict[str, str] = {
    "national": "National",
    "provincial": "Provincial",
    "municipal": "Municipal",
    "district": "District",
}
"""The levels' English names, for English messages (the Chinese ones are LEVEL_LABELS)."""

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
DESIGNATION_LABELS_EN: dict[str, str] = {
    "high_tech": "High-tech enterprise",
    "tech_sme": "Technology-based SME",
    "specialised_sme": "Specialised, refined, distinctive and innovative SME",
    "little_giant": "Specialised and innovative “little giant” enterprise",
    "single_champion": "Manufacturing single-product champion",
    "gazelle": "Gazelle enterprise",
    "unicorn": "Unicorn enterprise",
    "innovative_leading": "Leading innovative enterprise",
    "tech_innovation_demo": "Technological innovation demonstration enterprise",
    "innovation_platform": "Innovation platform",
    "manufacturing_innovation_center": "Manufacturing innovation centre",
    "one_tech_rd_center": "“One enterprise, one technology” R&D centre",
    "tech_innovation_center": "Technology innovation centre",
    "key_laboratory": "Key laboratory",
    "engineering_research_center": "Engineering research centre",
    "enterprise_tech_center": "Enterprise technology centre",
    "industrial_internet_platform": "Industrial internet platform",
    "digital_transformation": "Digital transformation benchmark enterprise",
    "smart_factory": "Smart factory",
    "service_manufacturing": "Service-oriented manufacturing enterprise (platform)",
    "green_factory": "Green factory",
    "green_park": "Green industrial park",
    "green_design_product": "Green design product",
    "quality_benchmark": "Manufacturing “quality benchmark”",
    "time_honoured_brand": "Time-honoured brand",
    "integration_pilot": "Pilot of advanced manufacturing and modern services integration",
    "headquarters": "Headquarters enterprise",
    "first_store": "Brand first store",
    "financial_institution": "Modern financial institution",
    "trade_above_quota": "Trade and distribution enterprise above the quota",
    "service_above_scale": "Service enterprise above designated size",
    "listed_company": "Listed company",
    "platform_economy": "Platform economy enterprise",
    "world_class_candidate": "World-class enterprise candidate",
    "national_first_class_candidate": "National first-class enterprise candidate",
    "shandong_first_class_candidate": "Shandong first-class enterprise candidate",
    "water_saving_enterprise": "Water-saving enterprise",
    "water_saving_institution": "Water-saving public institution",
    "medical_elderly_care": "Integrated medical and elderly care institution",
    "foreign_trade_over_10m_usd": "Enterprise trading over USD 10 million a year",
    "civilised_unit": "Civilised unit",
    "civilised_community": "Civilised community",
    "civilised_campus": "Civilised campus",
    "clinical_key_specialty": "Key clinical specialty",
    "tcm_expert_studio": "Renowned TCM expert's heritage studio",
}
"""The designation types' English names, for English messages (the Chinese ones are `label`)."""
ITEM_TYPES: frozenset[str] = frozenset(k for k, t in DESIGNATION_TYPES.items() if t.items)
"""Designation types counted as items (see DesignationType.items)."""


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
