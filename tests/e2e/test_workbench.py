"""The workbench in a real browser over the real system: one test per journey of the people
who keep the ledger. Each saves a screenshot under tests/artifacts/workbench/."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.auth import Role
from tests.e2e.conftest import ARTIFACTS, System, require_events_rollups

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--lang=zh-CN"]
SHOTS = ARTIFACTS / "workbench"
ACTION_BUTTONS = (
    "新建项目",
    "编辑",
    "推进阶段",
    "新增里程碑",
    "标记完成",
    "填报投资",
    "新增难点",
    "办结",
    "保存",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import expect, sync_playwright

    # Uploads and dry runs take a few seconds on a busy machine: wait for them, not a clock.
    expect.set_options(timeout=20_000)

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        # A Chinese desktop: date pickers read 2024/01/15 (chromium-l10n and LANG).
        # (LANG stays C.UTF-8: the zh_CN locale is not generated here, and without it
        # Chromium cannot read a file whose name is Chinese.)
        env = {**os.environ, "LANG": "C.UTF-8", "LANGUAGE": "zh_CN"}
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield chromium
        chromium.close()


# People of the district office, created through the accounts API as an administrator would.
PASSWORD = "Zhifu-Plan-2025-Workbench"
PEOPLE = {Role.project_office: ("li.min", "李敏"), Role.viewer: ("chen.gang", "陈刚")}


@pytest.fixture(scope="module", autouse=True)
def people(system: System) -> None:
    for role, (username, display_name) in PEOPLE.items():
        r = httpx.post(
            system.url + "/api/v1/users",
            json={
                "username": username,
                "display_name": display_name,
                "roles": [role.value],
                "password": PASSWORD,
            },
            headers=system.headers(Role.admin),
            timeout=30,
        )
        assert r.status_code == 201, r.text


def open_as(browser, system: System, role: Role, *, width: int = 1366, height: int = 768):
    """A new browser signed in through the login page as the person holding `role`."""
    page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
    page.set_default_timeout(15_000)
    page.goto(f"{system.url}/app/")
    username, display_name = PEOPLE[role]
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="项目台账", exact=True).wait_for()
    assert page.locator("#who-name").inner_text() == display_name
    return page


def shot(page, name: str, *, full_page: bool = True) -> Path:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def api(system: System, method: str, path: str, role: Role = Role.project_office, **kw):
    r = httpx.request(method, system.url + path, headers=system.headers(role), timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json()


def new_project(system: System, **fields) -> dict:
    body = {"name": "芝罘区测试项目", "category": "school", "sub_district": "向阳街道", **fields}
    return api(system, "POST", "/api/v1/projects", json=body)


def no_raw_codes_or_json(page) -> None:
    text = page.locator("#page").inner_text()
    assert "{" not in text and '"loc"' not in text, text[:500]
    for code in ("reserve", "starting", "building", "school", "undefined", "null", "NaN"):
        assert not re.search(rf"\b{code}\b", text), code


def dialog_save(page, name: str = "保存") -> None:
    page.get_by_role("dialog").get_by_role("button", name=name, exact=True).click()


def school_target_value(browser, system: System) -> float:
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page.goto(f"{system.url}/#token={system.token(Role.viewer, 'dashboard')}")
    value = page.locator('[data-target-id="schools"] .current-value')
    value.wait_for(timeout=20_000)
    number = float(value.inner_text().replace(",", ""))
    page.close()
    return number


def test_a_clerk_registers_a_school_records_its_progress_and_the_school_target_rises(
    browser, system: System
):
    from playwright.sync_api import expect

    require_events_rollups(system)
    before = school_target_value(browser, system)
    page = open_as(browser, system, Role.project_office)

    page.get_by_role("button", name="新建项目").click()
    page.get_by_label("项目名称").fill("芝罘区工作台测试小学")
    page.get_by_label("项目类别").select_option(label="学校")
    page.get_by_label("所属街道").select_option(label="向阳街道")
    page.get_by_label("责任单位").fill("区教体局")
    page.get_by_label("入库日期").fill("2024-01-15")
    page.get_by_label("计划开工日期").fill("2024-03-01")
    page.get_by_label("计划竣工日期").fill("2025-06-30")
    page.get_by_label("总投资（万元）").fill("12000")
    shot(page, "project_form")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", name=re.compile("芝罘区工作台测试小学"))).to_be_visible()
    expect(page.get_by_text("已保存")).to_be_visible()
    project_id = int(page.url.rsplit("/", 1)[1].split("?")[0])

    for title, due in (("立项审批", "2024-02-10"), ("主体封顶", "2024-12-31")):
        page.get_by_role("button", name="新增里程碑").click()
        page.get_by_role("dialog").get_by_label("里程碑名称").fill(title)
        page.get_by_role("dialog").get_by_label("计划完成日期").fill(due)
        dialog_save(page)
        expect(page.locator("#milestones").get_by_text(title)).to_be_visible()

    # The grid opens on the plan's latest year that has begun (2025 once the plan is over),
    # never on a year after the plan; another year is one choice away.
    today = api(system, "GET", "/api/v1/projects/vocabulary")["today"]
    opening = str(min(max(int(today[:4]), 2023), 2025))
    expect(page.get_by_label("年度")).to_have_value(opening)
    expect(page.get_by_label(f"{opening}-01 完成投资（万元）")).to_be_visible()
    page.get_by_label("年度").select_option("2024")
    for month, amount in (("2024-03", "1000"), ("2024-04", "1500.5"), ("2024-05", "2000")):
        page.get_by_label(f"{month} 完成投资（万元）").fill(amount)
    page.get_by_role("button", name="填报投资").click()
    expect(page.locator("#investment").get_by_text("4,500.5", exact=False).first).to_be_visible()
    # April was misreported: the correction is recorded, not silently overwritten.
    page.get_by_label("2024-04 完成投资（万元）").fill("1600")
    page.get_by_role("button", name="填报投资").click()
    expect(page.locator("#investment")).to_contain_text("更正 1 次")
    # in 万元 as the page writes money everywhere: with thousands separators
    expect(page.locator("#history")).to_contain_text("1,500.5 → 1,600")
    expect(page.locator("#history")).to_contain_text("（空） → 12,000")

    for stage, on in (("开工", "2024-03-01"), ("在建", "2024-06-01"), ("建成", "2025-06-30")):
        page.get_by_role("button", name="推进阶段").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("推进到").select_option(label=stage)
        dialog.get_by_label("日期").fill(on)
        dialog.get_by_label("备注").fill(f"{stage}：工作台录入")
        expect(dialog.get_by_text("可以推进")).to_be_visible()
        dialog_save(page)
        page.get_by_role("dialog").filter(has_text="确认将项目").get_by_role(
            "button", name="确认"
        ).click()
        expect(page.locator(".timeline li.current")).to_contain_text(stage)
        expect(page.locator(".timeline li.current")).to_contain_text(on)

    shot(page, "project_detail_built")
    no_raw_codes_or_json(page)
    project = api(system, "GET", f"/api/v1/projects/{project_id}")
    assert project["stage"] == "built" and project["built_on"] == "2025-06-30"
    assert project["created_on"] == "2024-01-15"
    assert project["completed_investment_wan"] == 4600
    assert [m["title"] for m in project["milestones"]] == ["立项审批", "主体封顶"]

    # The roll-up follows the events; wait for it, then see it on the dashboard page.
    deadline = time.monotonic() + 60
    while api(system, "GET", "/api/v1/targets/schools")["current_value"] < before + 1:
        assert time.monotonic() < deadline, "the school target did not rise"
        time.sleep(0.5)
    # The clerk opens 首页看板 from the menu: the dashboard reads with her session.
    page.get_by_role("link", name="首页看板").click()
    value = page.locator('[data-target-id="schools"] .current-value')
    # The gateway may still hold the overview it cached before the move: look again, as a
    # reader would, until it shows the new count (the stream updates an open page by itself).
    deadline = time.monotonic() + 60
    while float(value.inner_text().replace(",", "")) < before + 1:
        assert time.monotonic() < deadline, "the dashboard never showed the new school"
        page.wait_for_timeout(2_000)
        page.reload()
    expect(value).to_have_text(str(int(before) + 1))
    page.locator('[data-target-id="schools"]').scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "dashboard_school_target.png"))
    page.close()


def test_an_illegal_move_is_explained_in_the_apis_words_before_submitting(browser, system: System):
    from playwright.sync_api import expect

    project = new_project(system, name="芝罘区非法推进测试小学", created_on="2024-05-01")
    page = open_as(browser, system, Role.project_office)
    page.goto(f"{system.url}/app/projects/{project['id']}")
    page.get_by_role("button", name="推进阶段").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("推进到").select_option(label="开工")
    dialog.get_by_label("日期").fill("2024-04-01")
    dialog.get_by_label("日期").dispatch_event("change")
    refusal = httpx.post(
        f"{system.url}/api/v1/projects/{project['id']}/transitions?dry_run=true",
        json={"to": "starting", "on": "2024-04-01"},
        headers={**system.headers(Role.project_office), "Accept-Language": "zh-CN"},
        timeout=30,
    )
    assert refusal.status_code == 409
    assert re.search(r"[\u4e00-\u9fff]", refusal.json()["detail"]), "the reason is in Chinese"
    expect(dialog.locator("#move-check")).to_have_text(refusal.json()["detail"])
    expect(dialog.get_by_role("button", name="保存")).to_be_disabled()
    shot(page, "illegal_move_explained", full_page=False)
    after = api(system, "GET", f"/api/v1/projects/{project['id']}")
    assert after["stage"] == "reserve" and after["version"] == project["version"]
    page.close()


def test_someone_elses_save_is_shown_and_the_clerk_reapplies_her_change(browser, system: System):
    from playwright.sync_api import expect

    project = new_project(system, name="芝罘区并发编辑测试小学", lead_department="区教体局")
    page = open_as(browser, system, Role.project_office)
    page.goto(f"{system.url}/app/projects/{project['id']}/edit")
    page.get_by_label("总投资（万元）").fill("8800")
    # Meanwhile a colleague changes the lead department.
    httpx.patch(
        f"{system.url}/api/v1/projects/{project['id']}",
        json={"lead_department": "区住建局"},
        headers={**system.headers(Role.project_office), "If-Match": f'"{project["version"]}"'},
        timeout=30,
    ).raise_for_status()
    page.get_by_role("button", name="保存").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="他人已先保存了这个项目")).to_be_visible()
    expect(dialog.get_by_role("row", name=re.compile("责任单位"))).to_contain_text("区住建局")
    expect(dialog.get_by_role("row", name=re.compile("总投资"))).to_contain_text("8800")
    shot(page, "conflict_412", full_page=False)
    dialog.get_by_role("button", name="在最新内容上重新应用我的修改").click()
    expect(page.get_by_label("责任单位")).to_have_value("区住建局")
    expect(page.get_by_label("总投资（万元）")).to_have_value("8800")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存")).to_be_visible()
    final = api(system, "GET", f"/api/v1/projects/{project['id']}")
    assert final["lead_department"] == "区住建局" and final["total_investment_wan"] == 8800
    page.close()


def test_a_blocker_is_raised_listed_and_resolved_with_a_note(browser, system: System):
    from playwright.sync_api import expect

    project = new_project(system, name="芝罘区难点测试小学")
    page = open_as(browser, system, Role.project_office)
    page.goto(f"{system.url}/app/projects/{project['id']}")
    page.get_by_role("button", name="新增难点").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("问题类型").select_option(label="用地保障")
    dialog.get_by_label("责任单位").fill("区自然资源局")
    dialog.get_by_label("问题描述").fill("地块征收补偿尚未完成")
    dialog.get_by_label("办结时限").fill("2099-12-31")
    dialog_save(page)
    expect(page.locator("#blockers").get_by_text("地块征收补偿尚未完成")).to_be_visible()

    page.get_by_role("link", name="难点堵点").click()
    section = page.get_by_role("region", name="区自然资源局")
    row = section.get_by_role("row", name=re.compile("芝罘区难点测试小学"))
    expect(row).to_be_visible()
    shot(page, "blockers_open")
    row.get_by_role("button", name="办结").click()
    form = page.get_by_role("dialog").filter(has=page.get_by_label("解决情况"))
    form.get_by_label("解决情况").fill("补偿协议已签订，地块交付")
    # 办结 takes the blocker off the open list: it asks 确认, naming the blocker, first.
    sure = page.get_by_role("dialog").filter(has_text="确认办结难点")
    form.get_by_role("button", name="办结", exact=True).click()
    expect(sure).to_contain_text("地块征收补偿尚未完成")
    # each dialog is named by its own title, the 确认 over the form too
    expect(page.get_by_role("dialog", name="办结", exact=True)).to_contain_text("确认办结难点")
    shot(page, "blocker_resolve_confirm", full_page=False)
    sure.get_by_role("button", name="取消").click()
    expect(sure).to_have_count(0)
    expect(form.get_by_label("解决情况")).to_have_value("补偿协议已签订，地块交付")
    assert api(system, "GET", f"/api/v1/projects/{project['id']}")["blockers"][0]["open"]
    form.get_by_role("button", name="办结", exact=True).click()
    sure.get_by_role("button", name="确认").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    # (the toast of raising it may still show beside this one)
    expect(page.get_by_text("已保存").last).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("芝罘区难点测试小学"))).to_have_count(0)
    [blocker] = api(system, "GET", f"/api/v1/projects/{project['id']}")["blockers"]
    assert blocker["resolution"] == "补偿协议已签订，地块交付" and blocker["open"] is False
    page.close()


def test_the_four_batches_open_on_the_plans_year_in_the_workbench_and_on_the_dashboard(
    browser, system: System
):
    """Once the 2023–2025 plan is over, 四个一批 opens on its last year (whose batches hold the
    projects), not on the calendar year after it; another year is one choice away."""
    from playwright.sync_api import expect

    today = api(system, "GET", "/api/v1/projects/vocabulary")["today"]
    opening = min(max(int(today[:4]), 2023), 2025)
    project = new_project(
        system,
        name="芝罘区四个一批测试小学",
        created_on=f"{opening - 1}-01-10",
        planned_start=f"{opening}-03-01",
        planned_completion=f"{opening + 1}-06-30",
    )
    started = today if today[:4] == str(opening) else f"{opening}-03-05"
    move = {"to": "starting", "on": started}
    api(system, "POST", f"/api/v1/projects/{project['id']}/transitions", json=move)
    page = open_as(browser, system, Role.project_office)
    page.get_by_role("link", name="四个一批", exact=True).click()
    expect(page.locator("#page h1")).to_have_text(f"{opening} 四个一批")
    expect(page.get_by_label("年度")).to_have_value(str(opening))
    starting = page.get_by_role("row").filter(has_text="开工一批").first
    expect(starting.locator("td").nth(0)).not_to_have_text("0")
    starting.get_by_role("link", name="开工一批").click()
    expect(page.get_by_role("link", name="芝罘区四个一批测试小学")).to_be_visible()
    expect(page.get_by_label("年度")).to_have_value(str(opening))
    shot(page, "pipeline_opens_on_plan_year")
    page.get_by_label("年度").select_option(str(opening - 1))
    expect(page.locator("#page h1")).to_have_text(f"{opening - 1} 四个一批")
    page.close()

    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page.goto(f"{system.url}/#token={system.token(Role.viewer, 'dashboard')}")
    expect(page.locator("#batches-title")).to_have_text(f"{opening} 年度“四个一批”")
    starting = page.locator('#batches tr[data-batch="starting"]')
    expect(starting.locator(".planned")).not_to_have_text("0")
    expect(starting.locator(".actual")).not_to_have_text("0")
    page.locator("#batches-section").screenshot(path=str(SHOTS / "dashboard_batches.png"))
    page.close()


def test_a_built_projects_open_milestone_is_shown_plainly_not_as_overdue(browser, system: System):
    """Once a project is built (or cancelled) nothing of it is late: its past-due open milestone
    reads 未完成, with nothing red, on the project page and in the ledger."""
    from playwright.sync_api import expect

    name = "芝罘区已建成测试小学"
    project = new_project(system, name=name, created_on="2023-01-10")
    url = f"/api/v1/projects/{project['id']}"
    milestone = {"kind": "acceptance", "title": "竣工验收备案", "due_on": "2024-05-01"}
    api(system, "POST", f"{url}/milestones", json=milestone)
    api(system, "POST", f"{url}/transitions", json={"to": "built", "on": "2024-03-01"})

    page = open_as(browser, system, Role.project_office)
    page.goto(f"{system.url}/app/projects/{project['id']}")
    row = page.locator("#milestones tbody tr").filter(has_text="竣工验收备案")
    expect(row).to_contain_text("未完成")
    expect(row).not_to_contain_text("逾期")
    expect(row.locator(".overdue")).to_have_count(0)
    shot(page, "milestone_of_built_project")
    page.goto(f"{system.url}/app/projects?q={name}")
    ledger_row = page.locator("tbody tr").filter(has_text=name)
    expect(ledger_row).to_contain_text("竣工验收备案")
    expect(ledger_row.locator(".overdue")).to_have_count(0)
    page.close()


def test_a_built_projects_open_blocker_is_shown_plainly_not_as_overdue(browser, system: System):
    """A past-due open blocker of a built project says no 逾期 N 天 and nothing of it is red,
    on 难点堵点 and on the project page; one of a project still building still does."""
    from playwright.sync_api import expect

    department = "区已建成难点测试局"
    names = {"built": "芝罘区已建成难点测试小学", "building": "芝罘区在建难点测试小学"}
    ids = {}
    for stage, name in names.items():
        project = new_project(system, name=name, created_on="2023-01-10")
        ids[stage] = project["id"]
        url = f"/api/v1/projects/{project['id']}"
        blocker = {
            "kind": "land", "description": "用地未落实", "responsible_department": department,
            "raised_on": "2024-02-01", "due_on": "2024-05-01",
        }  # fmt: skip
        api(system, "POST", f"{url}/blockers", json=blocker)
        api(system, "POST", f"{url}/transitions", json={"to": stage, "on": "2024-03-01"})

    page = open_as(browser, system, Role.project_office)
    page.goto(f"{system.url}/app/blockers")
    section = page.get_by_role("region", name=department)
    built = section.get_by_role("row", name=re.compile(names["built"]))
    building = section.get_by_role("row", name=re.compile(names["building"]))
    expect(building.locator(".overdue")).to_contain_text("逾期")
    expect(built).to_contain_text("2024-05-01")
    expect(built).not_to_contain_text("逾期")
    expect(built.locator(".overdue")).to_have_count(0)
    shot(page, "blocker_of_built_project")
    page.goto(f"{system.url}/app/projects/{ids['built']}")
    row = page.locator("#blockers tbody tr").filter(has_text="用地未落实")
    expect(row).to_contain_text("2024-05-01")
    expect(row.locator(".overdue")).to_have_count(0)
    page.close()


def test_a_viewer_sees_every_page_without_an_action_button(browser, system: System):
    from playwright.sync_api import expect

    project = new_project(system, name="芝罘区只读测试小学")
    page = open_as(browser, system, Role.viewer)
    expect(page.get_by_role("link", name="导入导出")).to_have_count(0)
    for path, name in (
        ("/app/projects", "viewer_ledger"),
        (f"/app/projects/{project['id']}", "viewer_detail"),
        ("/app/pipeline?year=2024", "viewer_pipeline"),
        ("/app/blockers", "viewer_blockers"),
    ):
        page.goto(system.url + path)
        page.locator("#page h1").wait_for()
        for label in ACTION_BUTTONS:
            expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)
        expect(page.get_by_role("link", name="编辑", exact=True)).to_have_count(0)
        shot(page, name)
    page.goto(f"{system.url}/app/projects/{project['id']}/edit")
    expect(page.get_by_text("没有找到这个页面")).to_be_visible()
    page.close()


def test_a_phone_reads_the_ledger_and_a_project(browser, system: System):
    from playwright.sync_api import expect

    project = new_project(system, name="芝罘区手机查看测试小学")
    page = open_as(browser, system, Role.viewer, width=390, height=844)
    # the table scrolls inside its panel; the page itself does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone_ledger")
    page.goto(f"{system.url}/app/projects/{project['id']}")
    page.locator("#page h1").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone_detail")
    page.close()
    # A clerk's menu is longer: on a phone every item shows whole, none past the edge.
    page = open_as(browser, system, Role.project_office, width=390, height=844)
    links = page.locator("nav.menu a")
    expect(links.filter(has_text="导入导出")).to_be_visible()
    for box in (link.bounding_box() for link in links.all()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    shot(page, "phone_ledger_clerk", full_page=False)
    page.close()


def overflow(page, selector: str) -> dict[str, float]:
    """How far `selector` reaches past its scrolling panel and past the window (0: it fits)."""
    return page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            const panel = el.closest(".table-scroll");
            return {
                panel: panel.scrollWidth - panel.clientWidth,
                window: Math.max(...[...el.querySelectorAll("th, td")].map(
                    (c) => c.getBoundingClientRect().right)) - window.innerWidth,
            };
        }""",
        selector,
    )


def test_the_ledger_fits_a_1366_desktop_in_both_languages(browser, system: System):
    from playwright.sync_api import expect

    # The longest words a row can carry: a long name, department, category and milestone.
    project = new_project(
        system,
        name="芝罘区老旧小区综合整治及配套基础设施提升改造工程（二期）",
        category="medical_elderly_care",
        lead_department="区住房和城乡建设局、区卫生健康局",
        planned_start="2024-03-01",
        planned_completion="2025-12-31",
        total_investment_wan=123456.78,
    )
    api(
        system,
        "POST",
        f"/api/v1/projects/{project['id']}/milestones",
        json={"title": "主体结构封顶及外立面改造完成", "due_on": "2099-06-30"},
    )
    page = open_as(browser, system, Role.project_office)
    page.goto(f"{system.url}/app/projects?q=老旧小区综合整治")
    row = page.locator("#ledger tbody tr", has_text="老旧小区综合整治")
    expect(row.get_by_role("link", name="编辑")).to_be_visible()
    shot(page, "ledger_1366_chinese", full_page=False)
    sideways = overflow(page, "#ledger")
    assert all(v <= 0 for v in sideways.values()), sideways
    page.get_by_role("button", name="English").click()
    expect(row.get_by_role("link", name="Edit")).to_be_visible()
    expect(page.locator("#ledger thead")).to_contain_text("Completed investment (10k CNY)")
    shot(page, "ledger_1366_english", full_page=False)
    sideways = overflow(page, "#ledger")
    assert all(v <= 0 for v in sideways.values()), sideways
    page.close()


def test_the_api_reference_renders_openapi_31_offline(browser, system: System):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    remote: list[str] = []
    page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(system.url) else None)
    page.goto(f"{system.url}/docs")
    page.locator(".opblock").first.wait_for(timeout=30_000)
    assert page.get_by_text("Unable to render this definition").count() == 0
    assert page.get_by_text("OAS 3.1").count() == 1
    assert page.locator(".opblock").count() > 30
    assert remote == []
    shot(page, "api_docs")
    page.close()


def test_the_address_keeps_the_filters_and_the_back_button_returns(browser, system: System):
    from playwright.sync_api import expect

    building = new_project(system, name="芝罘区筛选测试小学", created_on="2024-01-10")
    api(
        system,
        "POST",
        f"/api/v1/projects/{building['id']}/transitions",
        json={"to": "building", "on": "2024-02-01"},
    )
    page = open_as(browser, system, Role.project_office)
    page.get_by_label("建设阶段").select_option(label="在建")
    page.get_by_role("button", name="查询").click()
    expect(page).to_have_url(re.compile(r"/app/projects\?stage=building$"))
    expect(page.locator("#page")).to_have_attribute("aria-busy", "false")
    stages = page.locator("#ledger tbody tr td:nth-child(3)")
    expect(stages.first).to_have_text("在建")
    assert set(stages.all_inner_texts()) == {"在建"}
    page.get_by_role("button", name="建设阶段").click()  # sort by the column
    expect(page).to_have_url(re.compile(r"stage=building&sort=stage"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/app/projects\?stage=building$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/app/projects$"))
    expect(page.locator("#page")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_label("建设阶段")).to_have_value("")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Project ledger")).to_be_visible()
    # An English page says the codes in English words, not the Chinese labels of the API.
    row = page.locator("#ledger tbody tr", has_text="芝罘区筛选测试小学")
    expect(row.locator("td:nth-child(2)")).to_have_text("School")
    expect(row.locator("td:nth-child(3)")).to_have_text("Building")
    coded = page.locator("#ledger tbody tr td:nth-child(2), #ledger tbody tr td:nth-child(3)")
    assert not [t for t in coded.all_inner_texts() if re.search(r"[\u4e00-\u9fff]", t)]
    stage_filter = page.get_by_label("Stage", exact=True)
    assert "Building" in stage_filter.locator("option").all_inner_texts()
    shot(page, "ledger_english")
    no_raw_codes_or_json(page)
    row.get_by_role("link", name="芝罘区筛选测试小学").click()
    expect(page.get_by_role("heading", name=re.compile("芝罘区筛选测试小学"))).to_contain_text(
        "Building"
    )
    summary = page.locator(".summary-grid").inner_text()
    assert "School" in summary and "学校" not in summary and "在建" not in summary
    # English punctuation in English: the history says "Stage: …", not "Stage：…".
    history = page.locator("#history")
    expect(history).to_contain_text("Stage: Reserve → Building")
    assert "：" not in history.inner_text()
    shot(page, "project_english")
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name=re.compile("芝罘区筛选测试小学"))).to_contain_text(
        "在建"
    )
    expect(history).to_contain_text("建设阶段：储备 → 在建")
    page.close()


def _sheet_rows(content: bytes) -> tuple[object, object, int, dict[str, int]]:
    """The workbook, its ledger sheet, the header row and the column of each header."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    for row in sheet.iter_rows():
        names = [c.value for c in row]
        if "项目名称" in names:
            return book, sheet, row[0].row, {n: i + 1 for i, n in enumerate(names) if n}
    raise AssertionError("no header row with 项目名称")


def _save(book, path: Path) -> Path:
    book.save(path)
    return path


def test_an_import_shows_every_bad_row_then_imports_the_fixed_file_and_a_reimport_changes_nothing(
    browser, system: System, tmp_path: Path
):
    from playwright.sync_api import expect

    words = api(system, "GET", "/api/v1/projects/vocabulary")
    head = words["ledger_headers"]
    template = httpx.get(
        f"{system.url}/api/v1/projects/export",
        params={"format": "xlsx", "template": "true"},
        headers=system.headers(Role.project_office),
        timeout=30,
    )
    assert template.status_code == 200
    book, sheet, header_row, col = _sheet_rows(template.content)
    rows = [
        {"name": "芝罘区导入测试小学", "category": "学校", "sub_district": "向阳街道",
         "planned_start": "2024-03-01"},
        {"name": "芝罘区导入测试道路", "category": "不存在的类别", "sub_district": "东山街道",
         "planned_start": "2024-04-01"},
        {"name": "芝罘区导入测试公园", "category": "口袋公园", "sub_district": "奇山街道",
         "planned_start": "2024-13-45"},
    ]  # fmt: skip
    for i, values in enumerate(rows, start=header_row + 1):
        for field, value in values.items():
            sheet.cell(row=i, column=col[head[field]], value=value)
    bad = _save(book, tmp_path / "台账-有错.xlsx")

    page = open_as(browser, system, Role.project_office)
    page.get_by_role("link", name="导入导出").click()
    page.get_by_label("选择文件").set_input_files(str(bad))
    page.get_by_role("button", name="预检").click()
    errors = page.locator("#import-result table tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text(str(header_row + 2))
    expect(errors.nth(0)).to_contain_text(head["category"])
    expect(errors.nth(1)).to_contain_text(str(header_row + 3))
    expect(errors.nth(1)).to_contain_text(head["planned_start"])
    expect(page.get_by_role("button", name="确认导入")).to_be_hidden()
    # Of the three rows only the good one is new; the two with errors are counted as such.
    expect(page.locator('[data-count="新增"] dd')).to_have_text("1")
    expect(page.locator('[data-count="有误"] dd')).to_have_text("2")
    no_raw_codes_or_json(page)
    shot(page, "import_two_bad_rows")
    assert api(system, "GET", "/api/v1/projects?q=导入测试")["total"] == 0

    sheet.cell(row=header_row + 2, column=col[head["category"]], value="道路")
    sheet.cell(row=header_row + 3, column=col[head["planned_start"]], value="2024-05-01")
    fixed = _save(book, tmp_path / "台账-已改.xlsx")
    page.get_by_label("选择文件").set_input_files(str(fixed))
    page.get_by_role("button", name="预检").click()
    expect(page.locator('[data-count="新增"] dd')).to_have_text("3")
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator("#import-result")).to_contain_text("已导入：新增 3，更新 0，不变 0")
    imported = api(system, "GET", "/api/v1/projects?q=导入测试&limit=10")["items"]
    assert sorted(p["category"] for p in imported) == ["pocket_park", "road", "school"]

    with page.expect_download() as download:
        page.get_by_role("button", name="下载项目台账 Excel（.xlsx）").click()
    ledger = tmp_path / "台账-导出.xlsx"
    download.value.save_as(ledger)
    before = {
        p["id"]: p["version"] for p in api(system, "GET", "/api/v1/projects?limit=500")["items"]
    }
    page.get_by_label("选择文件").set_input_files(str(ledger))
    page.get_by_role("button", name="预检").click()
    expect(page.locator('[data-count="新增"] dd')).to_have_text("0")
    expect(page.locator('[data-count="更新"] dd')).to_have_text("0")
    expect(page.locator('[data-count="不变"] dd')).to_have_text(str(len(before)))
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator("#import-result")).to_contain_text(
        f"已导入：新增 0，更新 0，不变 {len(before)}"
    )
    shot(page, "import_unchanged_reimport")
    after = {
        p["id"]: p["version"] for p in api(system, "GET", "/api/v1/projects?limit=500")["items"]
    }
    assert after == before
    page.close()


def test_sign_in_refuses_a_wrong_password_in_the_apis_words_and_sign_out_ends_the_session(
    browser, system: System
):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page.goto(f"{system.url}/app/projects?stage=building")
    expect(page).to_have_url(re.compile(r"/app/login\?next="))
    page.get_by_label("用户名").fill(PEOPLE[Role.project_office][0])
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    refusal = httpx.post(
        system.url + "/auth/login",
        json={"username": "nobody-at-all", "password": "not-the-password"},
        headers={"Accept-Language": "zh-CN", "Origin": system.url},
        timeout=30,
    )
    assert refusal.status_code == 401
    expect(page.locator(".login .form-error")).to_have_text(refusal.json()["detail"])
    shot(page, "login_refused")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    # back to the page asked for, filters and all
    expect(page).to_have_url(re.compile(r"/app/projects\?stage=building$"))
    expect(page.get_by_role("heading", name="项目台账", exact=True)).to_be_visible()
    expect(page.get_by_label("建设阶段")).to_have_value("building")
    expect(page.locator("#who-role")).to_have_text("项目办")
    shot(page, "signed_in")
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/app/login"))
    page.goto(f"{system.url}/app/projects")
    expect(page).to_have_url(re.compile(r"/app/login"))
    page.close()
