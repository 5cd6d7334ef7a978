"""The same problem in Chinese and in English, by Accept-Language, from each service's own rules:
events reports, a sheet over its limit (413), a project code's region, an enterprise's overlapping
designation (by API and by import). On SQLite and PostgreSQL (the fixtures run both)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.common.settings import Settings
from tests.conftest import auth
from tests.integration import projects_kit
from tests.integration.enterprises_kit import Service, enterprise, enterprises_service, make_uscc
from tests.integration.projects_kit import Client, project_body
from tests.integration.test_events_api import REPORTED
from tests.sheet_files import far_cell_xlsx

client = projects_kit.client
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
ASKS_NOTHING = {"Accept-Language": ""}  # the test clients ask for English unless told
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def both(send: Callable[[dict[str, str]], Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer to the same request asked in Chinese and in English, and the default's."""
    zh, en, default = await send(ZH), await send(EN), await send(ASKS_NOTHING)
    assert zh.status_code == en.status_code, (zh.text, en.text)
    assert default.json() == zh.json(), "Chinese unless English is asked for"
    return zh.json(), en.json()


async def test_an_events_report_422_in_both_languages(events_service, tokens) -> None:  # noqa: ANN001
    c, _, _ = events_service
    url = f"/api/v1/targets/{REPORTED.id}/reports"
    admin = auth(tokens["admin"])

    async def post(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return await both(lambda lang: c.post(url, json=body, headers={**admin, **lang}))

    zh, en = await post({"value": 1, "period": "1999"})
    assert zh["status"] == 422 and (zh["title"], en["title"]) == ("输入有误", "Invalid input")
    assert zh["detail"] == "填报期 1999 早于 2000 年"
    assert en["detail"] == "the period 1999 is before 2000"
    assert zh["errors"][0]["loc"] == en["errors"][0]["loc"] == ["period"]
    zh, en = await post({"value": 1, "period": "2024-13"})  # the body's own validator
    assert zh["errors"][0]["msg"] == "填报期应为年份（2024）、季度（2024-Q3）或月份（2024-06）"
    assert "a quarter (2024-Q3)" in en["errors"][0]["msg"] and not chinese(en["errors"][0]["msg"])
    zh, en = await post({"value": 1, "period": "2025"})
    assert zh["detail"].startswith("填报期 2025 尚未结束（今天是 ")
    assert en["detail"].startswith("the period 2025 has not ended")
    r = await both(
        lambda lang: c.post(
            "/api/v1/targets/schools/reports",
            json={"value": 3, "period": "2024"},
            headers={**admin, **lang},
        )
    )
    assert r[0]["status"] == 409
    assert r[0]["detail"] == "目标“schools”由项目台账自动统计，只有人工填报的目标才接受填报"
    assert r[1]["detail"].endswith("only reported targets take reports")
    zh, en = await both(lambda lang: c.get("/api/v1/targets/nowhere", headers={**admin, **lang}))
    assert (zh["detail"], en["detail"]) == (
        "目标清单中没有目标“nowhere”",
        "no target 'nowhere' in the catalogue",
    )
    assert (await c.get(url, headers=admin)).json()["total"] == 0


async def test_a_sheet_over_its_limit_is_a_413_naming_the_limit_in_both_languages(
    client: Client,
) -> None:
    content = far_cell_xlsx()
    zh, en = await both(
        lambda lang: client.post(
            "/api/v1/projects/import", files={"file": ("台账.xlsx", content, XLSX)}, headers=lang
        )
    )
    assert zh["status"] == 413 and zh["limit"] == en["limit"] == "sheet_max_rows"
    assert (zh["title"], en["title"]) == ("内容过大", "Content too large")
    assert zh["detail"].startswith("未导入任何数据：文件行数超过上限（")
    assert "PLANTRACK_SHEET_MAX_ROWS" in zh["detail"] and "拆分" in zh["detail"]
    assert en["detail"].startswith("Nothing was imported: the file has more rows than allowed (")
    assert "PLANTRACK_SHEET_MAX_ROWS" in en["detail"] and not chinese(en["detail"])
    assert zh["errors"][0]["loc"] == ["file"] and chinese(zh["errors"][0]["msg"])
    assert not chinese(en["errors"][0]["msg"])
    assert (await client.get("/api/v1/projects")).json()["total"] == 0


async def test_a_project_codes_region_is_explained_in_both_languages(client: Client) -> None:
    for region, zh_reason, en_reason in (
        ("990602", "“99”不是省级区划代码的前两位", "'99' is not a province-level prefix"),
        ("370002", "有县级部分却没有地市级部分", "a county part without a prefecture part"),
    ):
        body = project_body(code=f"2023-{region}-47-01-123456")
        zh, en = await both(
            lambda lang, b=body: client.post("/api/v1/projects", json=b, headers=lang)
        )
        assert zh["status"] == 422, zh
        assert zh["errors"][0]["loc"] == en["errors"][0]["loc"] == ["code"]
        assert zh["errors"][0]["msg"] == (
            f"项目代码中的区划 {region} 不是 GB/T 2260 行政区划代码：" + zh_reason
            + ("（第 3-4 位为 00）" if region == "370002" else "")
        )  # fmt: skip
        assert en["errors"][0]["msg"].startswith(
            f"region {region} in the project code is not a GB/T 2260 division code: {en_reason}"
        )
    assert (await client.get("/api/v1/projects")).json()["total"] == 0


@pytest.fixture
async def svc(
    settings_factory: Callable[..., Settings], database_url_factory: Callable[[str], str]
) -> AsyncIterator[Service]:
    async with enterprises_service(settings_factory, database_url_factory("enterprises")) as s:
        yield s


async def test_an_overlapping_designation_is_refused_in_both_languages(
    svc: Service, tokens: dict[str, str]
) -> None:
    writer = auth(tokens["investment_promotion"])
    r = await svc.client.post("/api/v1/enterprises", json=enterprise(1), headers=writer)
    eid = r.json()["id"]
    url = f"/api/v1/enterprises/{eid}/designations"
    first = await svc.client.post(
        url,
        json={"type": "high_tech", "granted_on": "2023-11-30", "certificate_no": "GR202337000123"},
        headers=writer,
    )
    assert first.status_code == 201, first.text
    did = first.json()["id"]
    zh, en = await both(
        lambda lang: svc.client.post(
            url, json={"type": "high_tech", "granted_on": "2024-06-01"}, headers={**writer, **lang}
        )
    )
    assert zh["status"] == 409 and (zh["title"], en["title"]) == ("冲突", "Conflict")
    # The clerk finds the designation held by its type, grant date and certificate number.
    assert zh["detail"].startswith(
        "企业已持有高新技术企业（2023-11-30 认定，证书编号 GR202337000123），有效期 2023-11-30 至 "
    )
    assert zh["detail"].endswith("如为该项认定的续期（复审），请以续期办理")
    assert en["detail"].startswith(
        "the enterprise already holds High-tech enterprise (granted 2023-11-30, certificate "
        "GR202337000123), valid 2023-11-30 – "
    )
    assert en["detail"].endswith("record it as a renewal")
    for shown in (zh["detail"], en["detail"], zh["errors"][0]["msg"], en["errors"][0]["msg"]):
        assert "high_tech" not in shown and "renews_id" not in shown, shown
    assert zh["conflicting_id"] == did

    # The import says the same of a row that overlaps what is registered.
    code = enterprise(1)["uscc"]
    sheet = (
        "统一社会信用代码,企业名称,认定类型,认定日期,有效期至\n"
        f"{code},甲,high_tech,2022-01-01,2024-01-01\n"
    ).encode()
    zh, en = await both(
        lambda lang: svc.client.post(
            "/api/v1/enterprises/import",
            files={"file": ("ledger.csv", sheet, "text/csv")},
            headers={**writer, **lang},
        )
    )
    assert zh["status"] == 422
    assert zh["errors"][0]["loc"] == en["errors"][0]["loc"] == ["rows", 2, "granted_on"]
    assert zh["errors"][0]["msg"].startswith(
        f"工作表「ledger」第 2 行“认定日期”列（2022-01-01）：认定 {did}：企业已持有高新技术企业"
        "（2023-11-30 认定，证书编号 GR202337000123）"
    )
    assert en["errors"][0]["msg"].startswith(
        f"sheet 'ledger' row 2 column '认定日期' (2022-01-01): designation {did}: the enterprise "
        "already holds High-tech enterprise (granted 2023-11-30, certificate GR202337000123)"
    )
    for shown in (zh["errors"][0]["msg"], en["errors"][0]["msg"]):
        assert "high_tech" not in shown and "renews_id" not in shown, shown
    assert chinese(zh["detail"]) and en["detail"].startswith("Nothing was imported")
    assert make_uscc(1) == code
