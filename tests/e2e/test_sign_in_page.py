"""A person signs in through the workbench's page in Chromium and signs out again.

Screenshots of each step are kept in tests/artifacts/ (sign_in_*.png).
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect, sync_playwright

from services.common.auth import Role
from tests.e2e.conftest import ARTIFACTS, System
from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS

PASSWORD = "芝罘-工作台-2025"


def add_person(system: System, username: str, display_name: str) -> None:
    r = httpx.post(
        system.url + "/api/v1/users",
        json={
            "username": username,
            "display_name": display_name,
            "roles": ["project_office"],
            "password": PASSWORD,
        },
        headers=system.headers(Role.admin),
        timeout=30,
    )
    assert r.status_code == 201, r.text


def test_a_person_signs_in_on_the_page_and_signs_out_again(system: System):
    add_person(system, "li.min", "项目办 李敏")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.goto(f"{system.url}/app/login")

        # A wrong password: the page says so, in Chinese, and nobody is signed in.
        page.get_by_label("用户名").fill("li.min")
        page.get_by_label("密码").fill("not-the-password")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_text("用户名或密码")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "sign_in_1_wrong_password.png"))
        assert not any(c["name"] == "plantrack_session" for c in page.context.cookies())

        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_text("项目办 李敏")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "sign_in_2_signed_in.png"))
        (session,) = [c for c in page.context.cookies() if c["name"] == "plantrack_session"]
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        # The page's own calls carry the cookie; the cookie is not readable by its scripts.
        assert page.evaluate("document.cookie").find("plantrack_session") == -1
        me = page.evaluate("fetch('/api/v1/me').then(r => r.json())")
        assert me["username"] == "li.min" and me["roles"] == ["project_office"]

        page.get_by_role("button", name="退出登录").click()
        expect(page.get_by_role("button", name="登录")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "sign_in_3_signed_out.png"))
        assert page.evaluate("fetch('/api/v1/me').then(r => r.status)") == 401
        # The old cookie value is dead on the server too.
        r = httpx.get(
            system.url + "/api/v1/me",
            headers={"Cookie": f"plantrack_session={session['value']}"},
            timeout=10,
        )
        assert r.status_code == 401
        browser.close()


def test_history_names_the_person_who_signed_in_and_made_the_change(system: System):
    add_person(system, "wang.lei", "项目办 王磊")
    with httpx.Client(base_url=system.url, timeout=30) as browser:
        me = browser.post("/auth/login", json={"username": "wang.lei", "password": PASSWORD})
        assert me.status_code == 200, me.text
        csrf = {"X-CSRF-Token": me.json()["csrf_token"]}
        r = browser.post(
            "/api/v1/projects", json={"name": "署名测试项目", "category": "road"}, headers=csrf
        )
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = browser.patch(
            f"/api/v1/projects/{pid}",
            json={"lead_department": "区住建局"},
            headers={**csrf, "If-Match": r.headers["etag"]},
        )
        assert r.status_code == 200, r.text
        history = browser.get(f"/api/v1/projects/{pid}/history").json()["items"]
    assert [(h["action"], h["actor"], h["actor_name"]) for h in history] == [
        ("create", "wang.lei", "项目办 王磊"),
        ("update", "wang.lei", "项目办 王磊"),
    ]
