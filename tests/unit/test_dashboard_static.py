"""The dashboard page's static files: self-contained, fully translated, no markup from data."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from services.common.settings import SERVICES

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "static"
PAGE_FILES = ["index.html", "app.js", "style.css", "i18n.js"]
SCRIPTS = sorted(STATIC.glob("*.js"))
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)

STATUSES = ["achieved", "on_track", "at_risk", "behind", "no_data"]
SOURCES = ["projects", "enterprises", "reported"]
STAGES = ["reserve", "starting", "building", "built", "cancelled"]
MILESTONE_KINDS = ["approval", "land", "start", "topping_out", "completion", "acceptance", "other"]

ENTRY = re.compile(r'^ {4}(\w+): "((?:[^"\\]|\\.)*)",$')


class _Page(HTMLParser):
    """Collects every attribute of every tag of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _page() -> _Page:
    page = _Page()
    page.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return page


def _dictionary() -> dict[str, dict[str, str]]:
    """The zh and en blocks of i18n.js, read as text: `key: "text",` per line."""
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    blocks: dict[str, dict[str, str]] = {}
    for lang in ("zh", "en"):
        match = re.search(rf"^  {lang}: \{{\n(.*?)^  \}},$", source, re.MULTILINE | re.DOTALL)
        assert match, f"i18n.js has no `{lang}: {{ … }},` block"
        entries: dict[str, str] = {}
        for line in match.group(1).splitlines():
            if not line.strip():
                continue
            entry = ENTRY.match(line)
            assert entry, f'i18n.js {lang}: line not in the form `key: "text",`: {line!r}'
            assert entry.group(1) not in entries, f"i18n.js {lang}: duplicate key {entry.group(1)}"
            entries[entry.group(1)] = entry.group(2)
        blocks[lang] = entries
    return blocks


@pytest.mark.parametrize("name", PAGE_FILES)
def test_page_file_exists_and_is_not_empty(name: str) -> None:
    """The gateway serves these files; a missing one is a blank or unstyled page."""
    path = STATIC / name
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size > 0


def test_page_links_only_local_assets() -> None:
    """The machine has no internet: no src/href may point to another host or a CDN."""
    remote = [
        (tag, attr, value)
        for tag, attrs in _page().tags
        for attr, value in attrs.items()
        if attr in {"src", "href", "srcset", "action", "poster"} and value and REMOTE.match(value)
    ]
    assert remote == []


def test_page_assets_resolve_to_files_in_static() -> None:
    """Every /static/ asset the page loads exists, so nothing 404s at run time."""
    wanted = [
        attrs.get("src") or attrs.get("href")
        for tag, attrs in _page().tags
        if tag in {"script", "link"} and (attrs.get("src") or attrs.get("href", "")).startswith("/")
    ]
    assert "/static/app.js" in wanted and "/static/style.css" in wanted
    for url in wanted:
        assert (STATIC / url.removeprefix("/static/")).is_file(), f"{url} is not in gateway/static"


def test_scripts_import_only_local_modules() -> None:
    """ES module imports are relative files that exist; nothing is fetched from elsewhere."""
    for script in SCRIPTS:
        source = script.read_text(encoding="utf-8")
        for spec in re.findall(r"""(?:import|from)\s*\(?\s*["']([^"']+)["']""", source):
            assert spec.startswith("./"), f"{script.name} imports {spec!r}"
            assert (STATIC / spec).is_file(), f"{script.name} imports missing {spec}"
        assert not re.search(r"https?://", source), f"{script.name} names a remote URL"


def test_stylesheet_loads_no_remote_resources_or_fonts() -> None:
    """No web fonts and no url() or @import from another host: system fonts only."""
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    assert "@font-face" not in css
    assert not re.search(r"@import", css)
    for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css):
        assert not REMOTE.match(url), f"style.css loads {url}"


def test_scripts_never_build_markup_from_strings() -> None:
    """Titles and names are typed in by clerks: the page must only ever set text."""
    forbidden = re.compile(
        r"\.(?:innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|createContextualFragment"
        r"|\beval\s*\(|new\s+Function\s*\("
    )
    for script in SCRIPTS:
        for number, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1):
            assert not forbidden.search(line), f"{script.name}:{number}: {line.strip()}"


def test_page_has_no_inline_script_or_handlers() -> None:
    """Behaviour lives in the modules, so a strict Content-Security-Policy can be used."""
    for tag, attrs in _page().tags:
        assert not any(name.startswith("on") for name in attrs), f"<{tag}> has an inline handler"
        if tag == "script":
            assert attrs.get("src"), "inline <script> in index.html"


def test_chinese_and_english_have_the_same_labels() -> None:
    """Switching language never leaves a label untranslated or shows a raw key."""
    blocks = _dictionary()
    assert set(blocks["zh"]) == set(blocks["en"]), {
        "only_zh": sorted(set(blocks["zh"]) - set(blocks["en"])),
        "only_en": sorted(set(blocks["en"]) - set(blocks["zh"])),
    }


def test_translations_fill_the_same_placeholders() -> None:
    """A {placeholder} missing in one language would show literally on the page."""
    blocks = _dictionary()
    for key, zh in blocks["zh"].items():
        en = blocks["en"][key]
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", en)), key


def test_every_label_the_page_asks_for_exists() -> None:
    """data-i18n attributes, literal t("…") calls and enum-built keys all resolve."""
    keys = set(_dictionary()["zh"])
    wanted: set[str] = set()
    for _, attrs in _page().tags:
        wanted |= {v for k, v in attrs.items() if k.startswith("data-i18n") and v}
    for script in SCRIPTS:
        wanted |= set(re.findall(r"""\bt\(\s*["'](\w+)["']""", script.read_text(encoding="utf-8")))
    wanted |= {f"status_{s}" for s in STATUSES}
    wanted |= {f"source_{s}" for s in SOURCES}
    wanted |= {f"stage_{s}" for s in STAGES}
    wanted |= {f"milestone_{k}" for k in MILESTONE_KINDS}
    wanted |= {f"service_{s}" for s in SERVICES}
    assert sorted(wanted - keys) == []


def test_chinese_labels_carry_the_required_wording() -> None:
    """The status names, the degraded notice and the stage toast read as specified."""
    zh = _dictionary()["zh"]
    statuses = {s: zh[f"status_{s}"] for s in STATUSES}
    assert statuses == {
        "achieved": "达成",
        "on_track": "正常推进",
        "at_risk": "存在风险",
        "behind": "滞后",
        "no_data": "暂无数据",
    }
    assert zh["plan_title"] == (
        "芝罘区深化新旧动能转换推动绿色低碳高质量发展三年行动计划（2023—2025年）"
    )
    assert zh["degraded_notice"] == "部分数据暂不可用（{services}），显示的是 {age}前的数据"
    assert zh["age_seconds"] == "{n} 秒"
    assert zh["toast_stage"] == "项目「{name}」进入 {stage} 阶段"
    assert zh["lang_switch"] == "English" and _dictionary()["en"]["lang_switch"] == "中文"


def test_page_carries_the_hooks_browser_tests_rely_on() -> None:
    """Stable ids for the live indicator, notices, batches and filters."""
    ids = {attrs.get("id") for _, attrs in _page().tags}
    for required in [
        "status-live",
        "degraded-notice",
        "batches",
        "pipeline-matrix",
        "designations",
        "alerts-overdue",
        "alerts-expiring",
        "targets",
        "summary",
        "filter-status",
        "filter-source",
        "filter-search",
        "lang-switch",
        "auth-panel",
        "token-form",
        "token-input",
        "generated-at",
        "toasts",
    ]:
        assert required in ids, f"index.html has no #{required}"
    assert dict(_page().tags)["html"].get("lang") == "zh-CN"
