"""The enterprise and project catalogues: complete, labelled, and true to DOMAIN.md and OC4IDS."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest

from services.common.contracts import categories, designations
from services.common.contracts.designations import is_in_force
from services.common.contracts.stages import BATCH_LABELS, STAGE_LABELS, STAGES
from services.enterprises import catalogue as ent
from services.projects import catalogue as proj

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CODELISTS = SHARED / "oc4ids-0.9.4" / "codelists"
CJK = re.compile(r"[\u4e00-\u9fff]")


def codelist(name: str) -> set[str]:
    with (CODELISTS / name).open(encoding="utf-8") as fh:
        return {row["Code"] for row in csv.DictReader(fh)}


# --- enterprises -------------------------------------------------------------------------

REQUIRED_DESIGNATIONS = [
    "high_tech",
    "tech_sme",
    "specialised_sme",
    "little_giant",
    "single_champion",
    "gazelle",
    "unicorn",
    "headquarters",
    "first_store",
    "financial_institution",
    "trade_above_quota",
    "service_above_scale",
    "innovation_platform",
    "tech_innovation_center",
    "key_laboratory",
    "engineering_research_center",
    "enterprise_tech_center",
    "industrial_internet_platform",
    "listed_company",
    "platform_economy",
    "digital_transformation",
    "green_factory",
    "innovative_leading",
]


def test_every_required_designation_type_is_in_the_catalogue() -> None:
    assert set(REQUIRED_DESIGNATIONS) <= set(designations.DESIGNATION_TYPES)


@pytest.mark.parametrize("key", list(designations.DESIGNATION_TYPES))
def test_every_designation_type_has_a_chinese_label_and_coherent_levels(key: str) -> None:
    entry = designations.DESIGNATION_TYPES[key]
    assert entry.key == key
    assert CJK.search(entry.label), entry.label
    assert designations.DESIGNATION_LABELS[key] == entry.label
    assert entry.levels and set(entry.levels) <= set(ent.LEVELS)
    assert entry.default_level in entry.levels
    assert entry.clauses, "each type cites the plan articles that count it"


def test_labels_match_the_plan_wording() -> None:
    assert designations.DESIGNATION_LABELS["high_tech"] == "高新技术企业"
    assert designations.DESIGNATION_LABELS["tech_sme"] == "科技型中小企业"
    assert "小巨人" in designations.DESIGNATION_LABELS["little_giant"]
    assert ent.LEVEL_LABELS == {
        "national": "国家级",
        "provincial": "省级",
        "municipal": "市级",
        "district": "区级",
    }


def test_first_store_cites_both_articles() -> None:
    assert set(designations.DESIGNATION_TYPES["first_store"].clauses) == {"19", "35"}


@pytest.mark.parametrize(
    ("key", "validity"),
    [
        ("high_tech", 3),
        ("tech_sme", designations.CALENDAR_YEAR),
        ("specialised_sme", 3),
        ("little_giant", 3),
        ("single_champion", 3),
        ("headquarters", None),
        ("first_store", None),
        ("gazelle", None),
        ("unicorn", None),
    ],
)
def test_validity_defaults_follow_domain_md(key: str, validity: object) -> None:
    assert designations.DESIGNATION_TYPES[key].validity == validity


def test_high_tech_expires_three_years_after_the_certificate_date() -> None:
    assert ent.default_expiry("high_tech", date(2023, 5, 10)) == date(2026, 5, 10)


def test_tech_sme_is_valid_to_the_end_of_the_granted_year() -> None:
    assert ent.default_expiry("tech_sme", date(2024, 3, 15)) == date(2024, 12, 31)


def test_leap_day_grant_expires_on_the_last_day_of_february() -> None:
    assert ent.default_expiry("little_giant", date(2024, 2, 29)) == date(2027, 2, 28)


def test_types_without_expiry_give_none() -> None:
    assert ent.default_expiry("headquarters", date(2024, 1, 1)) is None


def test_validity_can_be_overridden_by_settings() -> None:
    granted = date(2024, 3, 15)
    assert ent.default_expiry("high_tech", granted, overrides={"high_tech": 2}) == date(2026, 3, 15)
    assert ent.default_expiry("high_tech", granted, overrides={"high_tech": None}) is None
    assert ent.default_expiry("gazelle", granted, overrides={"gazelle": 0}) == date(2024, 12, 31)
    # An override for another type leaves this one alone.
    assert ent.default_expiry("tech_sme", granted, overrides={"high_tech": 5}) == date(2024, 12, 31)


def test_negative_override_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        ent.default_expiry("high_tech", date(2024, 1, 1), overrides={"high_tech": -1})
    with pytest.raises(ValueError, match="≥ 0"):
        ent.default_expiry("high_tech", date(2024, 1, 1), overrides={"high_tech": "forever"})


def test_calendar_year_can_be_named_in_an_override() -> None:
    overrides = {"gazelle": "calendar_year"}
    assert ent.default_expiry("gazelle", date(2024, 7, 1), overrides=overrides) == date(
        2024, 12, 31
    )


def test_unknown_designation_type_is_invalid_and_lists_the_known_ones() -> None:
    with pytest.raises(ent.UnknownDesignationType) as err:
        ent.default_expiry("hi_tech", date(2024, 1, 1))
    assert err.value.status == 422
    assert "high_tech" in err.value.detail


def test_level_defaults_to_the_types_default() -> None:
    assert ent.resolve_level("little_giant") == "national"
    assert ent.resolve_level("specialised_sme") == "provincial"


def test_level_outside_the_types_levels_is_refused() -> None:
    with pytest.raises(
        ent.InvalidLevel, match="not granted at District level; it is granted at: National"
    ):
        ent.resolve_level("little_giant", "district")
    with pytest.raises(ent.InvalidLevel, match="unknown level"):
        ent.resolve_level("gazelle", "county")


@pytest.mark.parametrize(
    ("granted", "expires", "revoked", "on", "holds"),
    [
        (date(2023, 1, 1), date(2026, 1, 1), None, date(2026, 1, 1), True),
        (date(2023, 1, 1), date(2026, 1, 1), None, date(2026, 1, 2), False),
        (date(2023, 1, 1), None, None, date(2022, 12, 31), False),
        (date(2023, 1, 1), None, date(2024, 1, 1), date(2023, 12, 31), True),
        (date(2023, 1, 1), None, date(2024, 1, 1), date(2024, 1, 1), False),
    ],
)
def test_in_force_from_grant_through_expiry_until_revoked(
    granted: date, expires: date | None, revoked: date | None, on: date, holds: bool
) -> None:
    assert is_in_force(granted_on=granted, expires_on=expires, revoked_on=revoked, on=on) is holds


def test_industry_sections_are_a_to_t_with_chinese_labels() -> None:
    assert list(ent.INDUSTRY_SECTIONS) == [chr(c) for c in range(ord("A"), ord("U"))]
    assert all(CJK.search(label) for label in ent.INDUSTRY_SECTIONS.values())
    assert "制造" in ent.INDUSTRY_SECTIONS["C"]
    assert "信息技术" in ent.INDUSTRY_SECTIONS["I"]


def test_key_industry_chains_include_the_five_of_article_7() -> None:
    article_7 = {"信息技术", "智能制造", "海工装备", "生物医药", "新材料"}
    assert article_7 <= set(ent.KEY_INDUSTRY_CHAINS)


def test_industry_chains_are_configurable() -> None:
    assert ent.industry_chains() == ent.KEY_INDUSTRY_CHAINS
    assert ent.industry_chains([" 海工装备", "氢能", "海工装备", ""]) == ("海工装备", "氢能")
    assert ent.industry_chains([]) == ent.KEY_INDUSTRY_CHAINS


# --- projects ----------------------------------------------------------------------------

REQUIRED_CATEGORIES = [
    "school",
    "kindergarten",
    "hospital",
    "venue",
    "road",
    "pocket_park",
    "old_community",
    "beautiful_community",
    "suburban_community",
    "talent_apartment",
    "river",
    "greening_road",
    "museum",
    "elderly_care",
    "park",
    "parking",
    "sewage",
    "heating",
    "gas",
    "water_supply",
    "industrial_park",
    "innovation_platform",
    "port",
    "logistics",
    "cultural_tourism",
    "commercial_complex",
    "energy",
    "new_infrastructure",
    "5g_base_station",
    "charging_pile",
    "sponge_city",
    "other",
]


def test_every_required_project_category_is_in_the_catalogue() -> None:
    assert set(REQUIRED_CATEGORIES) <= set(categories.PROJECT_CATEGORIES)


@pytest.mark.parametrize("key", list(categories.PROJECT_CATEGORIES))
def test_every_category_has_a_label_and_oc4ids_codes(key: str) -> None:
    entry = categories.PROJECT_CATEGORIES[key]
    assert entry.key == key
    assert CJK.search(entry.label), entry.label
    assert categories.CATEGORY_LABELS[key] == entry.label
    assert entry.oc4ids_type in codelist("projectType.csv")
    assert set(entry.sectors) <= codelist("projectSector.csv")
    for sector in entry.sectors:
        if "." in sector:
            assert sector.split(".")[0] in entry.sectors, "a subsector comes with its parent"
    assert entry.sectors or key == "other"


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("school", "所"),
        ("hospital", "所"),
        ("venue", "处"),
        ("talent_apartment", "套"),
        ("road", "条"),
        ("old_community", "个"),
        ("beautiful_community", "个"),
        ("suburban_community", "个"),
        ("kindergarten", "所"),
        ("pocket_park", "处"),
        ("river", "km"),
        ("greening_road", "条"),
    ],
)
def test_units_follow_how_the_plan_counts(key: str, unit: str) -> None:
    assert categories.PROJECT_CATEGORIES[key].unit == unit


def test_sectors_follow_domain_md() -> None:
    sectors = {k: c.sectors for k, c in categories.PROJECT_CATEGORIES.items()}
    assert sectors["school"] == ("education",)
    assert sectors["kindergarten"] == ("education",)
    assert sectors["hospital"] == ("health",)
    assert sectors["road"] == ("transport", "transport.road")
    assert sectors["park"] == ("cultureSportsAndRecreation",)
    assert sectors["pocket_park"] == ("cultureSportsAndRecreation",)


def test_renovations_are_rehabilitation_and_new_builds_construction() -> None:
    types = {k: c.oc4ids_type for k, c in categories.PROJECT_CATEGORIES.items()}
    assert types["old_community"] == "rehabilitation"
    assert types["suburban_community"] == "rehabilitation"
    assert types["school"] == "construction"
    assert types["talent_apartment"] == "construction"


def test_unknown_category_is_invalid() -> None:
    with pytest.raises(proj.UnknownCategory) as err:
        proj.category("stadium")
    assert err.value.status == 422
    assert err.value.errors[0]["loc"] == ["category"]
    assert proj.category("school").label == "学校"


def test_stage_batch_milestone_and_level_labels() -> None:
    assert STAGE_LABELS == {
        "reserve": "储备",
        "starting": "开工",
        "building": "在建",
        "built": "建成",
        "cancelled": "已取消",
    }
    assert list(BATCH_LABELS.values()) == ["建成一批", "在建一批", "开工一批", "储备一批"]
    assert set(BATCH_LABELS) <= set(STAGES)
    assert set(proj.MILESTONE_KINDS) == {
        "approval",
        "land",
        "start",
        "topping_out",
        "completion",
        "acceptance",
        "other",
    }
    assert all(CJK.search(v) for v in proj.MILESTONE_KIND_LABELS.values())
    assert proj.LEVEL_LABELS == {"province": "省级", "city": "市级", "district": "区级"}


def test_zhifu_sub_districts_are_listed_once_each() -> None:
    assert len(set(proj.SUB_DISTRICTS)) == len(proj.SUB_DISTRICTS) == 12
    some = {"向阳街道", "东山街道", "毓璜顶街道", "通伸街道", "芝罘岛街道", "幸福街道"}
    assert some <= set(proj.SUB_DISTRICTS)
    assert all(name.endswith("街道") for name in proj.SUB_DISTRICTS)


def test_sub_districts_are_configurable() -> None:
    assert proj.sub_districts() == proj.SUB_DISTRICTS
    assert proj.sub_districts(["只楚街道 ", "只楚街道"]) == ("只楚街道",)
