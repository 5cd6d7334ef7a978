"""The workbench's static files: one shell for every /app/ address, every word in both
languages, nothing fetched from another host, no data written as markup."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from services.common.settings import Settings

WORKBENCH = Path(__file__).resolve().parents[2] / "gateway" / "static" / "workbench"
SCRIPTS = sorted(WORKBENCH.glob("*.js"))
ENTRY = re.compile(r'^ {4}(\w+): "((?:[^"\\]|\\.)*)",$')
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def dictionary() -> dict[str, dict[str, str]]:
    source = (WORKBENCH / "i18n.js").read_text(encoding="utf-8")
    blocks: dict[str, dict[str, str]] = {}
    for lang in ("zh", "en"):
        match = re.search(rf"^  {lang}: \{{\n(.*?)^  \}},$", source, re.MULTILINE | re.DOTALL)
        assert match, f"workbench i18n.js has no `{lang}` block"
        entries: dict[str, str] = {}
        for line in filter(str.strip, match.group(1).splitlines()):
            entry = ENTRY.match(line)
            assert entry, f'{lang}: not `key: "text",`: {line!r}'
            assert entry.group(1) not in entries, f"{lang}: duplicate key {entry.group(1)}"
            entries[entry.group(1)] = entry.group(2)
        blocks[lang] = entries
    return blocks


def test_both_languages_have_the_same_words_and_placeholders() -> None:
    words = dictionary()
    assert set(words["zh"]) == set(words["en"])
    for key, zh in words["zh"].items():
        assert set(PLACEHOLDER.findall(zh)) == set(PLACEHOLDER.findall(words["en"][key])), key


def test_every_word_a_page_asks_for_is_in_the_dictionary() -> None:
    """A key missing from i18n.js would show on the page as the bare key."""
    known = set(dictionary()["zh"])
    used: set[str] = set()
    for script in SCRIPTS:
        used |= set(re.findall(r'\bt\("(\w+)"', script.read_text(encoding="utf-8")))
    html = (WORKBENCH / "index.html").read_text(encoding="utf-8")
    used |= set(re.findall(r'data-i18n(?:-[\w-]+)?="(\w+)"', html))
    assert used - known == set()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_load_nothing_from_another_host_and_write_no_markup(script: Path) -> None:
    source = script.read_text(encoding="utf-8")
    assert not re.search(r"""["'`](?:https?:)?//""", source), "a remote URL"
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source


@pytest.mark.parametrize(
    "path", ["/app", "/app/", "/app/login", "/app/projects?stage=building", "/app/projects/7/edit"]
)
async def test_every_workbench_address_serves_the_one_page(tmp_path, path: str) -> None:
    app = create_app(Settings(env="test", data_dir=tmp_path, secret="w" * 40))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        r = await client.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "/static/workbench/app.js" in r.text
        for script in SCRIPTS:
            asset = await client.get(f"/static/workbench/{script.name}")
            assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]


def code_words_en() -> dict[str, dict[str, str]]:
    source = (WORKBENCH / "i18n.js").read_text(encoding="utf-8")
    match = re.search(r"^export const CODE_WORDS_EN = (\{\n.*?^\});$", source, re.M | re.S)
    assert match, "i18n.js has no CODE_WORDS_EN"
    as_json = re.sub(r"^(\s*)(\w+):", r'\1"\2":', match.group(1), flags=re.M)
    as_json = re.sub(r"\{ (\w+):", r'{ "\1":', as_json)
    as_json = re.sub(r", (\w+):", r', "\1":', as_json)
    return json.loads(re.sub(r",(\s*\})", r"\1", as_json))


def test_every_code_of_the_vocabulary_has_an_english_word() -> None:
    """An English page shows these for the codes, not the Chinese labels the API returns."""
    from services.projects.workbench import vocabulary

    words = code_words_en()
    vocab = vocabulary(today=date(2025, 6, 30))
    lists = {k for k, v in vocab.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    assert lists == set(words)
    for name in lists:
        keys = [item["key"] for item in vocab[name]]
        assert set(keys) == set(words[name]), name
        for key in keys:
            assert words[name][key] and not re.search(r"[\u4e00-\u9fff]", words[name][key])


def test_pages_show_codes_through_the_vocabulary_not_the_apis_chinese_labels() -> None:
    for script in SCRIPTS:
        source = script.read_text(encoding="utf-8")
        assert not re.search(r"\.\w+_label\b", source), f"{script.name} shows an API label"
