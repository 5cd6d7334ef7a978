"""Problems speak the caller's language (Chinese unless English is asked for), and the Chinese
labels the API returns are accepted wherever it expects a code."""

from __future__ import annotations

from tests.conftest import auth
from tests.integration import enterprises_kit, projects_kit
from tests.integration.projects_kit import Client, create, project_body

client = projects_kit.client  # the projects service on SQLite and PostgreSQL
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}


async def test_the_same_422_in_chinese_by_default_and_in_english_when_asked(
    client: Client,
) -> None:
    body = project_body(name="", total_investment_wan=-1, planned_start="2024-13-01")
    answers = {}
    for name, headers in (("zh", ZH), ("none", {"Accept-Language": ""}), ("en", EN)):
        r = await client.post("/api/v1/projects", json=body, headers=headers)
        assert r.status_code == 422
        answers[name] = r.json()
    zh, en = answers["zh"], answers["en"]
    assert answers["none"] == zh  # Chinese unless English is asked for
    assert (zh["title"], en["title"]) == ("输入有误", "Invalid input")
    assert zh["detail"].startswith("以下字段有误：") and en["detail"].startswith("Invalid fields:")
    assert [e["loc"] for e in zh["errors"]] == [e["loc"] for e in en["errors"]]
    by_loc = {tuple(e["loc"]): e["msg"] for e in zh["errors"]}
    assert by_loc[("name",)] == "至少 1 个字符"
    assert by_loc[("total_investment_wan",)] == "应大于或等于 0"
    assert by_loc[("planned_start",)].startswith("应为日期")
    en_by_loc = {tuple(e["loc"]): e["msg"] for e in en["errors"]}
    assert en_by_loc[("total_investment_wan",)] == "Input should be greater than or equal to 0"


async def test_domain_problems_are_chinese_and_english_from_the_labels(client: Client) -> None:
    p = await create(client, stage="building")
    url = f"/api/v1/projects/{p['id']}/transitions"
    zh = (await client.post(url, json={"to": "starting"}, headers=ZH)).json()
    en = (await client.post(url, json={"to": "starting"}, headers=EN)).json()
    assert zh["status"] == en["status"] == 409
    assert (zh["title"], en["title"]) == ("冲突", "Conflict")
    assert zh["detail"] == "项目只能向前推进：当前为在建，不能退回开工"
    assert en["detail"] == (
        "a project moves forward only: it is building (在建) and cannot go back to starting (开工)"
    )
    assert zh["errors"][0]["msg"] == zh["detail"] and zh["errors"][0]["loc"] == ["to"]
    r = await client.post("/api/v1/projects", json=project_body(category="spaceport"), headers=ZH)
    assert r.json()["errors"][0]["msg"].startswith("未知的项目类别“spaceport”；可选：学校、")
    r = await client.get("/api/v1/projects/99999", headers=ZH)
    assert r.json()["title"] == "未找到" and r.json()["detail"] == "没有编号为 99999 的项目"


async def test_chinese_labels_are_accepted_wherever_a_code_is(client: Client) -> None:
    body = project_body(category="学校", level="区级", stage="在建")
    r = await client.post("/api/v1/projects", json=body)
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["category"], p["level"], p["stage"]) == ("school", "district", "building")
    r = await client.post(f"/api/v1/projects/{p['id']}/transitions", json={"to": "建成"})
    assert r.status_code == 200 and r.json()["stage"] == "built"
    r = await client.patch(
        f"/api/v1/projects/{p['id']}",
        json={"level": "市级", "category": "医院"},
        headers={"If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["level"], r.json()["category"]) == ("city", "hospital")
    r = await client.post(
        f"/api/v1/projects/{p['id']}/blockers",
        json={"kind": "用地保障", "description": "地块未交付"},
    )
    assert r.status_code == 201 and r.json()["kind"] == "land"
    r = await client.post(
        f"/api/v1/projects/{p['id']}/milestones", json={"kind": "立项审批", "title": "立项"}
    )
    assert r.status_code == 201 and r.json()["kind"] == "approval"
    listing = await client.get(
        "/api/v1/projects", params={"stage": "建成", "category": "医院", "level": "市级"}
    )
    assert [x["id"] for x in listing.json()["items"]] == [p["id"]]


async def test_enterprise_codes_take_their_chinese_labels_too(
    settings_factory, database_url_factory, tokens
) -> None:  # noqa: ANN001
    url = database_url_factory("enterprises")
    async with enterprises_kit.enterprises_service(settings_factory, url) as service:
        c = service.client
        c.headers.update(auth(tokens["investment_promotion"]))
        body = enterprises_kit.enterprise(1, industry_section="信息传输、软件和信息技术服务业")
        body["size"] = "小型"
        r = await c.post("/api/v1/enterprises", json=body)
        assert r.status_code == 201, r.text
        e = r.json()
        assert (e["industry_section"], e["size"]) == ("I", "small")
        r = await c.post(
            f"/api/v1/enterprises/{e['id']}/designations",
            json={"type": "高新技术企业", "level": "国家级", "granted_on": "2024-01-10"},
        )
        assert r.status_code == 201, r.text
        assert (r.json()["type"], r.json()["level"]) == ("high_tech", "national")
        found = await c.get("/api/v1/enterprises", params={"designation": "高新技术企业"})
        assert [x["id"] for x in found.json()["items"]] == [e["id"]]
        r = await c.post(
            f"/api/v1/enterprises/{e['id']}/designations",
            json={"type": "高新技术企业", "granted_on": "2099-01-01"},
            headers={"Accept-Language": "zh"},
        )
        assert r.status_code == 422 and r.json()["title"] == "输入有误"
        assert r.json()["detail"] == "认定日期 2099-01-01 晚于今天（2025-06-30）"
        bad = enterprises_kit.enterprise(2, uscc=enterprises_kit.corrupt_check(e["uscc"]))
        zh = await c.post("/api/v1/enterprises", json=bad, headers={"Accept-Language": "zh"})
        en = await c.post("/api/v1/enterprises", json=bad, headers={"Accept-Language": "en"})
        assert zh.status_code == en.status_code == 422
        assert zh.json()["detail"].startswith("第 18 位校验码有误")
        assert en.json()["detail"].startswith("wrong check character at position 18")
