"""Project catalogue: milestones, levels, sub-districts, the district's names and labels.

The categories (services/common/contracts/categories.py), the stages and the batches
(services/common/contracts/stages.py) are contracts: the roll-up and the dashboard read them too.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.common.contracts.categories import PROJECT_CATEGORIES, ProjectCategory
from services.common.errors import Invalid
from services.projects.labels import MESSAGES

NON_INFRASTRUCTURE: frozenset[str] = frozenset(
    {"basic_research", "key_technology", "major_achievement", "tech_programme", "tech_transfer"}
)
"""Research programmes, results and technology transfers (articles 5–9): not infrastructure.
The plan's counts of them are reported targets now; rows recorded under these categories
before stay in the ledger but are no construction projects and stay out of OC4IDS."""

MILESTONE_KIND_LABELS: dict[str, str] = {
    "approval": "立项审批",
    "land": "土地手续",
    "start": "开工",
    "topping_out": "主体封顶",
    "completion": "完工",
    "acceptance": "竣工验收",
    "other": "其他",
}
MILESTONE_KINDS: tuple[str, ...] = tuple(MILESTONE_KIND_LABELS)

# Key-project lists are kept at three levels (article 31: 省市区三级重点项目).
LEVEL_LABELS: dict[str, str] = {"province": "省级", "city": "市级", "district": "区级"}
LEVELS: tuple[str, ...] = tuple(LEVEL_LABELS)

# Where the projects are: Zhifu District, Yantai, Shandong (GB/T 2260 370602).
DISTRICT_NAME = "芝罘区"
CITY_NAME = "烟台市"
PROVINCE_NAME = "山东省"
COUNTRY_NAME = "中国"
DISTRICT_REGION_CODE = "370602"
DISTRICT_POSTAL_CODE = "264000"

PLAN_TITLE = "芝罘区深化新旧动能转换推动绿色低碳高质量发展三年行动计划(2023—2025年)"
QUANTITY_TITLE = "建设规模"

SUB_DISTRICTS: tuple[str, ...] = (
    "向阳街道",
    "东山街道",
    "毓璜顶街道",
    "通伸街道",
    "凤凰台街道",
    "奇山街道",
    "白石街道",
    "芝罘岛街道",
    "黄务街道",
    "只楚街道",
    "世回尧街道",
    "幸福街道",
)


class UnknownCategory(Invalid):
    """The project category is not in the catalogue."""


def category(key: str) -> ProjectCategory:
    """The catalogue entry for `key`, or `UnknownCategory` listing the known keys."""
    try:
        return PROJECT_CATEGORIES[key]
    except KeyError:
        raise UnknownCategory(
            MESSAGES(
                "category.unknown",
                value=key,
                allowed=", ".join(PROJECT_CATEGORIES),
                allowed_zh="、".join(c.label for c in PROJECT_CATEGORIES.values()),
            ),
            loc=["category"],
        ) from None


def sub_districts(configured: Iterable[str] | None = None) -> tuple[str, ...]:
    """The sub-districts in use: the configured list (trimmed, de-duplicated) or Zhifu's."""
    if configured is None:
        return SUB_DISTRICTS
    names = dict.fromkeys(n.strip() for n in configured if n and n.strip())
    return tuple(names) or SUB_DISTRICTS
