"""The target catalogue holds every number the plan commits to, each traceable to its article."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.contracts.designations import DESIGNATION_TYPES
from services.common.errors import NotFound
from services.events.targets import (
    DEFAULT_PATH,
    CatalogueError,
    Target,
    get_target,
    load_catalogue,
)
from services.projects.catalogue import PROJECT_CATEGORIES

SEED_NAME = "000_5073db77e2d4264f.txt"
PLAN_WINDOW = (date(2023, 1, 1), date(2025, 12, 31))
TARGETS = load_catalogue()


def seed_path() -> Path | None:
    """The plan text beside the repo, else wherever PLANTRACK_SEED points."""
    beside_repo = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / SEED_NAME
    if beside_repo.is_file():
        return beside_repo
    configured = os.environ.get("PLANTRACK_SEED")
    if configured and Path(configured).is_file():
        return Path(configured)
    return None


# --- a small parser for the plan text ------------------------------------------------------

ARTICLE_LINE = re.compile(r"^(\d{1,3})\.(?!\d)")
CHAPTER_LINE = re.compile(r"^([一二三四五六七八九十]+)、")
SECTION_LINE = re.compile(r"^[(（][一二三四五六七八九十]+[)）]")
CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


@dataclass
class Article:
    clause: str
    chapter: str
    text: str


def chinese_number(numeral: str) -> int:
    """一 → 1, 十 → 10, 十一 → 11, 二十三 → 23 (enough for chapter headings)."""
    tens, _, units = numeral.rpartition("十")
    if "十" not in numeral:
        return CN_DIGIT[numeral]
    return (CN_DIGIT[tens] if tens else 1) * 10 + (CN_DIGIT[units] if units else 0)


def parse_articles(text: str) -> dict[str, Article]:
    """Articles keyed by number ("50"); a chapter's opening paragraph keyed "chN".

    An article runs from its `N.` line to the next article, section or chapter heading, so a
    section's own introduction never leaks into the article before it.
    """
    articles: dict[str, Article] = {}
    chapter = ""
    current: Article | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if match := CHAPTER_LINE.match(line):
            chapter = line
            current = Article(f"ch{chinese_number(match.group(1))}", chapter, "")
            articles[current.clause] = current
        elif SECTION_LINE.match(line):
            current = None
        elif match := ARTICLE_LINE.match(line):
            current = Article(match.group(1), chapter, line)
            articles[current.clause] = current
        elif current is not None:
            current.text += line
    return articles


def normalise(text: str) -> str:
    """Full-width and half-width punctuation compare equal; whitespace is ignored."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


CN_FORMS = {
    1: "一",
    2: "二两",
    3: "三",
    4: "四",
    5: "五",
    6: "六",
    7: "七",
    8: "八",
    9: "九",
    10: "十",
}


def number_patterns(value: float, unit: str) -> list[re.Pattern[str]]:
    """The ways the plan writes a number: 180, 63.6, 10000 as 1万, 36000 as 3.6万, 两个, 一轮."""
    exact = str(int(value)) if float(value).is_integer() else f"{value:g}"
    forms = [re.escape(exact)]
    if float(value).is_integer() and value >= 1000:
        forms.append(re.escape(f"{int(value):,}"))
    if value >= 10000:
        forms.append(re.escape(f"{value / 10000:g}") + "万")
    patterns = [re.compile(rf"(?<![\d.]){form}(?!\.?\d)") for form in forms]
    if float(value).is_integer() and int(value) in CN_FORMS:
        patterns.append(re.compile(f"[{CN_FORMS[int(value)]}]{re.escape(unit[0])}"))
    return patterns


def mentions(text: str, target: Target) -> bool:
    return any(p.search(text) for p in number_patterns(target.target_value, target.unit))


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    path = seed_path()
    if path is None:
        pytest.skip("plan text not found beside the repo and PLANTRACK_SEED not set")
    return parse_articles(path.read_text(encoding="utf-8"))


def by_id(target: Target) -> str:
    return target.id


# --- the parser itself --------------------------------------------------------------------


def test_seed_parser_finds_102_articles_under_11_chapters(articles: dict[str, Article]) -> None:
    numbered = sorted(int(c) for c in articles if c.isdigit())
    assert numbered == list(range(1, 103))
    assert sorted(c for c in articles if c.startswith("ch")) == sorted(
        f"ch{n}" for n in range(1, 12)
    )
    assert articles["50"].chapter.startswith("六、")
    assert "13所学校" in articles["50"].text
    assert "45%" in articles["ch2"].text
    assert "做强五大主导" not in articles["18"].text  # a section's intro is nobody's article


def test_number_patterns_read_the_plans_own_forms() -> None:
    def found(text: str, value: float, unit: str) -> bool:
        return any(p.search(text) for p in number_patterns(value, unit))

    assert found("新建人才公寓1万套", 10000, "套")
    assert found("城镇新增就业3.6万人", 36000, "人")
    assert found("编制完成只楚、卧龙两个园区产业规划", 2, "个")
    assert found("比例达到63.6%", 63.6, "%")
    assert not found("达到180家", 18, "家")
    assert not found("到2025年", 202, "年")
    assert not found("比例达到63.6%", 63, "%")


# --- the catalogue as a whole -------------------------------------------------------------


def test_catalogue_loads_from_beside_the_module() -> None:
    assert DEFAULT_PATH.name == "targets.yaml"
    assert TARGETS and all(isinstance(t, Target) for t in TARGETS)


def test_target_ids_are_unique() -> None:
    ids = [t.id for t in TARGETS]
    assert len(ids) == len(set(ids))


def test_catalogue_counts_every_countable_commitment_and_reports_the_statistics() -> None:
    # The plan's counted numbers (article 63 included) and the facilities it names without a
    # numeral; every other number is a statistic or counts people or activities (article 80's
    # 160 大学生 are students, 名, reported by the department), and research programmes,
    # results and transfers (articles 5–9) are no construction projects: reported too.
    counted = [t for t in TARGETS if t.source != "reported"]
    reported = [t for t in TARGETS if t.source == "reported"]
    assert len(counted) >= 50
    assert len(reported) >= 68
    assert get_target("graduate_startups_per_year").source == "reported"
    for target_id in (
        "basic_research_projects", "key_tech_research_projects_per_year", "major_breakthroughs",
        "tech_programmes", "tech_achievements_transferred",
    ):  # fmt: skip
        assert get_target(target_id).source == "reported", target_id
    assert {t.source for t in counted} == {"projects", "enterprises"}


def test_catalogue_is_read_once_and_callers_cannot_alter_it() -> None:
    first = load_catalogue()
    first.clear()
    second = load_catalogue()
    assert len(second) == len(TARGETS)
    assert second[0] is TARGETS[0]


def test_get_target_finds_a_target_by_id() -> None:
    assert get_target("high_tech_enterprises").target_value == 180


def test_get_target_of_an_unknown_id_is_not_found() -> None:
    with pytest.raises(NotFound, match="no_such_target"):
        get_target("no_such_target")


# --- every target traces to the plan ------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=by_id)
def test_target_cites_an_article_under_its_chapter(
    target: Target, articles: dict[str, Article]
) -> None:
    assert target.clause in articles, f"{target.id}: no article {target.clause} in the plan"
    assert target.chapter == articles[target.clause].chapter


@pytest.mark.parametrize("target", TARGETS, ids=by_id)
def test_target_number_appears_in_its_article(target: Target, articles: dict[str, Article]) -> None:
    text = articles[target.clause].text
    if mentions(text, target):
        return
    # A single named deliverable ("建成芝罘区博物馆") or a coverage (全覆盖: 100 %) carries no
    # numeral; its quote must then stand in the article word for word (… marks words left out).
    implied = target.target_value == 1 or target.measure == "share"
    assert implied, f"{target.id}: {target.target_value} not in {target.clause}"
    fragments = list(filter(None, map(normalise, target.title.split("…"))))
    assert fragments and all(fragment in normalise(text) for fragment in fragments)


@pytest.mark.parametrize("target", TARGETS, ids=by_id)
def test_title_quotes_its_article(target: Target, articles: dict[str, Article]) -> None:
    text = normalise(articles[target.clause].text)
    for fragment in filter(None, map(normalise, target.title.split("…"))):
        assert fragment in text, f"{target.id}: {fragment!r} is not in article {target.clause}"


@pytest.mark.parametrize("target", TARGETS, ids=by_id)
def test_title_carries_the_target_number(target: Target) -> None:
    if target.measure == "share":  # 全覆盖, 全部, 清零: the plan's words for 100 %
        assert any(word in target.title for word in COVERAGE_WORDS), target.id
        return
    assert mentions(target.title, target) or target.target_value == 1


COVERAGE_WORDS = ("全覆盖", "全域覆盖", "全部", "清零")

# Every coverage and one-off commitment of the plan: (article, id, words quoted from it).
COMMITMENTS = [
    ("25", "fitness_circle_coverage", "share", "“10分钟健身圈”全覆盖"),
    ("48", "waste_sorting_coverage", "share", "生活垃圾分类处置全覆盖"),
    ("60", "government_service_standards_coverage", "share", "政务服务标准规范实现全域覆盖"),
    ("79", "zero_employment_households_cleared", "share", "零就业家庭动态“清零”"),
    ("85", "community_health_centres_basic_standard", "share", "全部达到国家基本标准"),
    ("86", "public_hospitals_online_services", "share", "二级以上公立医疗机构全部接入"),
    ("96", "smart_governance_communities_coverage", "share", "智慧型治理社区全覆盖"),
    ("15", "green_factories_and_parks_built", "milestone", "建成市级以上绿色工厂、园区"),
    ("19", "zhucheng_holding_2a_plus", "milestone", "打造2A+融资集团"),
    ("50", "drainage_facilities_survey", "milestone", "完成全域排水设施排查"),
    ("56", "industry_leaders_built", "milestone", "东方电子打造成行业领军企业"),
    ("84", "regional_cdc", "milestone", "将区疾控中心打造成烟台市区域疾控中心"),
    ("89", "medical_elderly_care_pilot_county_accepted", "milestone", "创新引领县通过省级验收"),
]  # fmt: skip


@pytest.mark.parametrize(("clause", "target_id", "measure", "words"), COMMITMENTS)
def test_every_coverage_and_one_off_commitment_is_a_target_quoting_its_article(
    clause: str, target_id: str, measure: str, words: str, articles: dict[str, Article]
) -> None:
    target = get_target(target_id)
    assert (target.clause, target.measure, target.source) == (clause, measure, "reported")
    assert normalise(words) in normalise(target.title), "the title quotes the commitment"
    assert normalise(words) in normalise(articles[clause].text), "…as the article says it"
    expected = (100, "%") if measure == "share" else (1, "项")
    assert (target.target_value, target.unit, target.report_mode) == (*expected, "level")


def test_the_conflicting_coastline_and_first_store_targets_note_each_other() -> None:
    for one, other in [
        ("natural_coastline_retention_art37", "natural_coastline_retention_art43"),
        ("brand_first_stores_art19", "brand_first_stores_art35"),
    ]:
        assert other in (get_target(one).note or "") and one in (get_target(other).note or "")


# --- the numbers acceptance depends on ----------------------------------------------------

ACCEPTANCE = [
    ("50", "category", "school", 13, "new", "所"),
    ("50", "category", "hospital", 4, "new", "所"),
    ("50", "category", "venue", 8, "new", "处"),
    ("50", "category", "talent_apartment", 10000, "sum", "套"),
    ("50", "category", "road", 25, "new", "条"),
    ("51", "category", "old_community", 55, "new", "个"),
    ("51", "category", "beautiful_community", 10, "new", "个"),
    ("51", "category", "suburban_community", 29, "new", "个"),
    ("51", "category", "kindergarten", 20, "new", "所"),
    ("52", "category", "pocket_park", 150, "new", "处"),
    ("40", "category", "river", 17, "sum", "km"),
    ("7", "designation", "high_tech", 180, "stock", "家"),
    ("17", "designation", "headquarters", 30, "stock", "家"),
    ("19", "designation", "first_store", 50, "new", "家"),
    ("35", "designation", "first_store", 30, "new", "家"),
]


@pytest.mark.parametrize(
    ("clause", "key", "name", "value", "measure", "unit"),
    ACCEPTANCE,
    ids=[f"{row[0]}-{row[2]}" for row in ACCEPTANCE],
)
def test_acceptance_target_is_present_with_the_right_selector(
    clause: str, key: str, name: str, value: int, measure: str, unit: str
) -> None:
    def selects(target: Target) -> bool:
        names = target.selector.categories if key == "category" else target.selector.designations
        return name in names

    matches = [t for t in TARGETS if t.clause == clause and t.selector and selects(t)]
    assert len(matches) == 1, f"article {clause} should have one {name} target"
    (target,) = matches
    assert (target.target_value, target.measure, target.unit) == (value, measure, unit)
    assert target.source == ("projects" if key == "category" else "enterprises")
    if measure == "sum":
        assert target.selector.quantity_unit == unit


def test_brand_first_stores_of_articles_19_and_35_are_both_kept() -> None:
    first_stores = {
        t.clause: t.target_value
        for t in TARGETS
        if t.selector and "first_store" in t.selector.designations
    }
    assert first_stores == {"19": 50, "35": 30}


def test_headquarters_start_from_the_eight_provincially_recognised() -> None:
    assert get_target("headquarters_enterprises").baseline_value == 8


# --- counting rules follow the plan's wording ---------------------------------------------


def test_yearly_counts_are_measured_per_year() -> None:
    for target in TARGETS:
        if target.source != "reported":
            assert (target.measure == "annual") == ("每年" in target.title), target.id


def test_money_and_shares_are_reported_statistics() -> None:  # or coverages a department reports
    for target in TARGETS:
        if target.unit in {"%", "亿元", "亿美元", "万立方米", "微克/立方米"}:
            assert target.source == "reported", target.id


def test_enterprises_and_facilities_are_counted_never_reported_by_hand() -> None:
    for target in TARGETS:
        if target.unit in {"家", "户", "所", "处", "座", "套", "km"}:
            assert target.source != "reported", target.id


def test_window_follows_the_years_the_plan_names() -> None:
    for target in TARGETS:
        window = (target.window.start, target.window.end)
        if "到2023年" in target.title:
            assert window == (date(2023, 1, 1), date(2023, 12, 31)), target.id
        elif "十四五" in target.title:
            assert window == (date(2021, 1, 1), PLAN_WINDOW[1]), target.id
        else:
            assert window == PLAN_WINDOW, target.id


def test_ceilings_are_marked_at_most() -> None:
    ceilings = {t.id for t in TARGETS if t.direction == "at_most"}
    assert ceilings == {
        "annual_water_use_cap",
        "pm25_concentration",
        "registered_unemployment_rate",
    }


def header_lists() -> dict[str, set[str]]:
    """The `# label: a, b,` lists (with indented continuation lines) atop the YAML file."""
    lists: dict[str, set[str]] = {}
    label = None
    for line in DEFAULT_PATH.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if match := re.match(r"^# (\w+):(.*)$", line):
            label, rest = match.groups()
        elif label and (match := re.match(r"^#\s{2,}(.*)$", line)):
            rest = match.group(1)
        else:
            label = None
            continue
        lists.setdefault(label, set()).update(n.strip() for n in rest.split(",") if n.strip())
    return lists


def test_header_comment_lists_every_designation_and_category_used() -> None:
    used_designations = {d for t in TARGETS if t.selector for d in t.selector.designations}
    used_categories = {c for t in TARGETS if t.selector for c in t.selector.categories}
    declared = header_lists()
    assert declared["designations"] == used_designations
    assert declared["categories"] == used_categories


# --- selectors name what the registries record ---------------------------------------------


@pytest.mark.parametrize("target", [t for t in TARGETS if t.selector], ids=by_id)
def test_selector_names_a_known_category_or_designation_type(target: Target) -> None:
    selector = target.selector
    assert selector is not None
    unknown_categories = set(selector.categories) - set(PROJECT_CATEGORIES)
    assert not unknown_categories, f"{target.id}: not in PROJECT_CATEGORIES {unknown_categories}"
    unknown_types = set(selector.designations) - set(DESIGNATION_TYPES)
    assert not unknown_types, f"{target.id}: not in DESIGNATION_TYPES {unknown_types}"
    granted_at = {lv for d in selector.designations for lv in DESIGNATION_TYPES[d].levels}
    assert set(selector.levels) <= granted_at, f"{target.id}: no type is granted at those levels"
    if selector.quantity_unit is not None:
        (category,) = selector.categories
        assert PROJECT_CATEGORIES[category].unit == selector.quantity_unit, target.id


# --- the loader refuses what the events service could not count ---------------------------


def entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "schools",
        "clause": "50",
        "chapter": "六、实施城市更新攻坚突破,拉开新格局",
        "title": "高标准建设康和新城中学等13所学校",
        "unit": "所",
        "target_value": 13,
        "baseline_value": None,
        "window": {"start": date(2023, 1, 1), "end": date(2025, 12, 31)},
        "measure": "new",
        "source": "projects",
        "selector": {"category": "school", "stage": "built"},
    }
    return base | changes


def write(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return path


def test_a_well_formed_entry_loads(tmp_path: Path) -> None:
    (target,) = load_catalogue(write(tmp_path, [entry()]))
    assert target.deadline == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"selector": {"category": "school", "stage": "built"}, "source": "reported"}, "reported"),
        ({"measure": "reported", "source": "reported"}, "selector null"),
        ({"selector": None}, "needs a selector"),
        ({"measure": "sum"}, "quantity_unit"),
        ({"selector": {"category": "school"}}, "category and stage"),
        ({"selector": {"category": "school", "stage": "built", "bogus": 1}}, "bogus"),
        ({"selector": {"category": "school", "stage": "built", "designation": "x"}}, "enterprise"),
        (
            {"source": "enterprises", "selector": {"designation": "high_tech", "stage": "built"}},
            "project",
        ),
        ({"source": "enterprises", "selector": {"level": "national"}}, "designation"),
        (
            {"source": "enterprises", "measure": "stock", "selector": {"landed": True}},
            "designation",
        ),
        ({"selector": {"category": "School", "stage": "built"}}, "snake_case"),
        ({"window": {"start": date(2025, 1, 1), "end": date(2024, 1, 1)}}, "after it ends"),
        ({"baseline_value": 20}, "past the target"),
        ({"clause": "第50条"}, "clause"),
        ({"target_value": 0}, "target_value"),
    ],
)
def test_an_inconsistent_entry_is_refused(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(write(tmp_path, [entry(**changes)]))


def test_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="duplicate id 'schools'"):
        load_catalogue(write(tmp_path, [entry(), entry(title="新建、改建20所普惠性幼儿园")]))
