"""The project categories: the words of a project's `category`, with their OC4IDS mapping.

The projects service records them, the roll-up's targets select by them, the dashboard shows
their labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OC4IDSType = Literal["construction", "rehabilitation", "replacement", "expansion"]


@dataclass(frozen=True, slots=True)
class ProjectCategory:
    """A kind of project the plan counts, mapped to OC4IDS sector(s) and project type."""

    key: str
    label: str
    unit: str | None
    sectors: tuple[str, ...]
    oc4ids_type: OC4IDSType = "construction"
    clauses: tuple[str, ...] = ()


_EDU = ("education",)
_HEALTH = ("health",)
_CULTURE = ("cultureSportsAndRecreation",)
_HOUSING = ("socialHousing",)
_ROAD = ("transport", "transport.road")
_WATER = ("waterAndWaste",)
_ENERGY = ("energy",)
_COMMS = ("communications",)
_ECONOMY = ("economy",)
_FLOOD = ("naturalResources", "naturalResources.floodProtection")


def _c(
    key: str,
    label: str,
    unit: str | None,
    sectors: tuple[str, ...],
    *,
    type_: OC4IDSType = "construction",
    clauses: tuple[str, ...] = (),
) -> tuple[str, ProjectCategory]:
    return key, ProjectCategory(key, label, unit, sectors, type_, clauses)


# Units follow how the plan counts each kind: 13所学校, 25条道路, 8处场馆, 1万套, 17公里 (km).
PROJECT_CATEGORIES: dict[str, ProjectCategory] = dict(
    [
        # Public services (articles 13, 50, 51, 82–86)
        _c("school", "学校", "所", _EDU, clauses=("50", "83")),
        _c("kindergarten", "普惠性幼儿园", "所", _EDU, clauses=("51", "82", "83")),
        _c("hospital", "医院", "所", _HEALTH, clauses=("50", "86")),
        _c("venue", "场馆", "处", _CULTURE, clauses=("20", "24", "50")),
        _c("museum", "博物馆", "座", _CULTURE, clauses=("73",)),
        _c("elderly_care", "养老服务设施", "处", _HEALTH, clauses=("51", "89")),
        _c("medical_elderly_care", "医养结合机构", "家", _HEALTH, clauses=("23",)),
        _c("public_facility", "公共服务设施", "处", ("governance",), clauses=("50", "84")),
        _c("community_service", "便民服务设施", "处", ("governance",), clauses=("34", "51")),
        _c("talent_apartment", "人才公寓", "套", _HOUSING, clauses=("50",)),
        _c("public_health_center", "公共卫生服务中心", "座", _HEALTH, clauses=("50",)),
        _c(
            "administrative_approval_center", "行政审批中心", "座", ("governance",), clauses=("50",)
        ),
        _c("hospital_expansion", "医院改扩建", "所", _HEALTH, type_="expansion", clauses=("86",)),
        # Urban renewal of where people live (article 51); existing estates are rehabilitated
        _c(
            "old_community",
            "老旧小区改造",
            "个",
            _HOUSING,
            type_="rehabilitation",
            clauses=("51",),
        ),
        _c(
            "beautiful_community",
            "美好社区",
            "个",
            _HOUSING,
            type_="rehabilitation",
            clauses=("51",),
        ),
        _c(
            "suburban_community",
            "城郊居民区改造",
            "个",
            _HOUSING,
            type_="rehabilitation",
            clauses=("51",),
        ),
        # Streets, green space and water (articles 38–40, 43, 50, 52, 53)
        _c("road", "道路", "条", _ROAD, clauses=("50",)),
        _c(
            "greening_road",
            "道路添绿",
            "条",
            _CULTURE,
            type_="rehabilitation",
            clauses=("38",),
        ),
        _c("pocket_park", "口袋公园", "处", _CULTURE, clauses=("25", "52")),
        _c("park", "公园", "处", _CULTURE, clauses=("24", "53")),
        _c("river", "河道治理", "km", _FLOOD, type_="rehabilitation", clauses=("40", "41", "53")),
        _c(
            "ecological_restoration",
            "生态修复",
            None,
            ("naturalResources",),
            type_="rehabilitation",
            clauses=("37", "53"),
        ),
        _c("sewage", "排水及污水管网", "km", _WATER, clauses=("43", "50")),
        _c("water_supply", "供水设施", None, _WATER, clauses=("39",)),
        _c("sponge_city", "海绵城市", None, _WATER + _FLOOD, clauses=("43",)),
        _c("waste", "垃圾收转运设施", "处", _WATER, clauses=("48", "52")),
        _c(
            "water_saving_community",
            "节水型居住小区",
            "个",
            _WATER,
            type_="rehabilitation",
            clauses=("39",),
        ),
        _c("parking", "停车场", "个", ("transport", "transport.urban"), clauses=("52",)),
        # Energy and new infrastructure (articles 14, 18, 42, 45)
        _c("heating", "供热设施", None, _ENERGY, clauses=("42",)),
        _c("gas", "燃气设施", None, _ENERGY, clauses=("42",)),
        _c("energy", "能源项目", None, _ENERGY, clauses=("14", "45")),
        _c(
            "charging_pile",
            "充电桩",
            "个",
            ("energy", "transport", "transport.lowCarbon"),
            clauses=("45",),
        ),
        _c("new_infrastructure", "新型基础设施", None, _COMMS, clauses=("18",)),
        _c("5g_base_station", "5G基站", "个", _COMMS, clauses=("21",)),
        # Industry, commerce and the parks' plans (articles 3, 17, 19–23, 35, 63)
        _c("industrial_park", "产业园区", "个", _ECONOMY, clauses=("21", "23", "45", "63")),
        _c("innovation_platform", "科创平台", "个", _ECONOMY, clauses=("3", "8")),
        _c("headquarters_base", "总部经济基地", "个", _ECONOMY, clauses=("17",)),
        _c("commercial_complex", "商贸综合体", "个", _ECONOMY, clauses=("19", "35")),
        _c("cultural_tourism", "文化旅游项目", None, _CULTURE, clauses=("20", "72")),
        _c("port", "港口码头", "个", ("transport", "transport.water"), clauses=("20", "22")),
        _c("logistics", "物流设施", None, ("transport",), clauses=("22", "28")),
        _c("marine_ranch", "海洋牧场", "个", _ECONOMY + ("naturalResources",), clauses=("22",)),
        _c("park_plan", "园区产业规划", "个", _ECONOMY, clauses=("63",)),
        _c("other", "其他", None, ()),
    ]
)
CATEGORY_LABELS: dict[str, str] = {k: c.label for k, c in PROJECT_CATEGORIES.items()}
