"""Sign-in through the gateway: sessions, expiry on an injected clock, CSRF, lockout, API keys.

The gateway runs in-process in front of stand-in services that verify tokens as the services
do, so what a service is shown (the signed identity) is checked too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from gateway.accounts.service import Accounts
from tests.conftest import TEST_SECRET, auth
from tests.unit.gateway_kit import Stand, gateway_over_stand

PROBLEM = "application/problem+json"
PASSWORD = "青山绿水-2025-zhifu"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@asynccontextmanager
async def signed_in_world(
    settings_factory: Any, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Stand, Accounts, Clock]]:
    clock = Clock()
    # Repeated wrong passwords are answered 10 ms later each rather than 250 ms: the lockout is
    # what these tests show; the slow-down's own steps are test_accounts_db's.
    overrides.setdefault("login_slowdown_seconds", 0.01)
    async with gateway_over_stand(
        settings_factory, gateway_kwargs={"clock": clock}, **overrides
    ) as (client, stand, app):
        client.headers["Accept-Language"] = "zh"  # as the pages ask
        accounts: Accounts = app.state.accounts
        accounts.add_user(
            username="office",
            display_name="项目办 李敏",
            roles=["project_office"],
            sub_districts=["向阳街道"],
            password=PASSWORD,
        )
        yield client, stand, accounts, clock


async def sign_in(client: httpx.AsyncClient, username: str = "office", password: str = PASSWORD):
    return await client.post("/auth/login", json={"username": username, "password": password})


async def test_sign_in_sets_an_httponly_lax_cookie_and_answers_who_with_a_csrf_token(
    settings_factory,
):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        r = await sign_in(client)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["username"] == "office" and body["display_name"] == "项目办 李敏"
        assert body["roles"] == ["project_office"] and body["sub_districts"] == ["向阳街道"]
        assert len(body["csrf_token"]) >= 32
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("plantrack_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP in this test; behind TLS it is set
        me = await client.get("/api/v1/me")
        assert me.status_code == 200 and me.json() == body


async def test_a_form_post_signs_in_too(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        r = await client.post("/auth/login", data={"username": "OFFICE", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["username"] == "office"


async def test_wrong_password_and_unknown_user_get_the_same_chinese_401(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        wrong = await sign_in(client, password="not-the-password")
        nobody = await sign_in(client, username="nobody", password="whatever-it-is")
        for r in (wrong, nobody):
            assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
            assert "set-cookie" not in r.headers
        assert wrong.json()["detail"] == nobody.json()["detail"] == "用户名或密码错误"
        # Chinese when the caller does not say; English when it asks for it.
        del client.headers["Accept-Language"]
        r = await sign_in(client, password="not-the-password")
        assert r.json()["detail"] == "用户名或密码错误" and r.json()["title"] == "未登录或令牌无效"
        client.headers["Accept-Language"] = "en"
        r = await sign_in(client, password="not-the-password")
        assert r.json()["detail"] == "Wrong username or password."


async def test_sign_out_ends_the_session_and_clears_the_cookie(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        csrf = (await sign_in(client)).json()["csrf_token"]
        stolen = client.cookies.get("plantrack_session")
        r = await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 204
        assert 'plantrack_session=""' in r.headers["set-cookie"]
        assert (await client.get("/api/v1/me")).status_code == 401
        # The old cookie value is dead on the server too, not only forgotten by the browser.
        client.cookies.set("plantrack_session", stolen)
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_session_idle_for_30_minutes_ends_and_activity_keeps_it_alive(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, clock):
        await sign_in(client)
        for _ in range(3):  # 87 minutes of use, never 30 idle
            clock.advance(minutes=29)
            assert (await client.get("/api/v1/me")).status_code == 200
        clock.advance(minutes=30)
        r = await client.get("/api/v1/me")
        assert r.status_code == 401 and "重新登录" in r.json()["detail"]


async def test_a_session_ends_after_12_hours_however_busy(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, clock):
        await sign_in(client)
        for _ in range(35):  # 11 h 40 min, a call every 20 minutes
            clock.advance(minutes=20)
            assert (await client.get("/api/v1/me")).status_code == 200
        clock.advance(minutes=20)
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_session_lifetimes_are_settings(settings_factory):
    async with signed_in_world(
        settings_factory, session_idle_minutes=5, session_absolute_hours=1
    ) as (client, _, _a, clock):
        await sign_in(client)
        clock.advance(minutes=4)
        assert (await client.get("/api/v1/me")).status_code == 200
        clock.advance(minutes=5)
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_disabling_a_person_ends_their_sessions_at_once(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, accounts, _c):
        await sign_in(client)
        assert (await client.get("/api/v1/me")).status_code == 200
        accounts.set_disabled("office", True)
        assert (await client.get("/api/v1/me")).status_code == 401
        accounts.set_disabled("office", False)
        # Enabling again does not bring the old session back; signing in does.
        assert (await client.get("/api/v1/me")).status_code == 401
        assert (await sign_in(client)).status_code == 200


async def test_a_disabled_person_cannot_sign_in(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, accounts, _c):
        accounts.set_disabled("office", True)
        r = await sign_in(client)
        assert r.status_code == 403 and "停用" in r.json()["detail"]


async def test_cookie_writes_need_the_sessions_csrf_token(settings_factory):
    async with signed_in_world(settings_factory) as (client, stand, _a, _c):
        csrf = (await sign_in(client)).json()["csrf_token"]
        body = {"name": "向阳街道口袋公园", "category": "pocket_park"}
        for headers in ({}, {"X-CSRF-Token": "wrong"}):
            r = await client.post("/api/v1/projects", json=body, headers=headers)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
            assert "CSRF" in r.json()["detail"]
        assert stand.upstreams["projects"].calls["POST /api/v1/projects"] == 0
        r = await client.post("/api/v1/projects", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201 and r.json()["by"] == "office"
        # Reads need no token.
        assert (await client.get("/api/v1/projects")).status_code == 200


async def test_a_cross_site_form_post_is_refused(settings_factory):
    async with signed_in_world(settings_factory) as (client, stand, _a, _c):
        csrf = (await sign_in(client)).json()["csrf_token"]
        evil = {
            "Origin": "https://evil.example",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        r = await client.post("/api/v1/projects", content=b"name=x&category=road", headers=evil)
        assert r.status_code == 403
        # Even a stolen CSRF token does not help a page of another origin.
        r = await client.post(
            "/api/v1/projects", json={"name": "x"}, headers={**evil, "X-CSRF-Token": csrf}
        )
        assert r.status_code == 403
        # Nor can another site sign a browser in to an account of its choosing.
        r = await client.post(
            "/auth/login",
            content=f"username=office&password={PASSWORD}".encode(),
            headers=evil,
        )
        assert r.status_code == 403
        assert stand.upstreams["projects"].calls["POST /api/v1/projects"] == 0


async def test_the_services_are_shown_a_signed_identity_not_the_cookie(settings_factory):
    async with signed_in_world(settings_factory) as (client, stand, _a, _c):
        await sign_in(client)
        assert (await client.get("/api/v1/projects")).status_code == 200
        seen = stand.upstreams["projects"].headers["GET /api/v1/projects"]
        assert "cookie" not in seen
        claims = jwt.decode(seen["authorization"].split()[1], TEST_SECRET, algorithms=["HS256"])
        assert claims["sub"] == "office" and claims["name"] == "项目办 李敏"
        assert claims["roles"] == ["project_office"] and claims["sub_districts"] == ["向阳街道"]
        assert claims["exp"] - claims["iat"] <= 60


async def test_operations_tokens_keep_working_without_csrf(settings_factory, tokens):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        r = await client.post(
            "/api/v1/projects", json={"name": "x"}, headers=auth(tokens["project_office"])
        )
        assert r.status_code == 201 and r.json()["by"] == "project_office-tester"
        me = await client.get("/api/v1/me", headers=auth(tokens["viewer"]))
        assert me.json()["roles"] == ["viewer"] and me.json()["csrf_token"] is None


async def test_five_failures_lock_the_account_with_423_and_the_lock_lifts(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, clock):
        for _ in range(4):
            assert (await sign_in(client, password="wrong-password")).status_code == 401
        r = await sign_in(client, password="wrong-password")
        assert r.status_code == 423 and r.headers["content-type"] == PROBLEM
        assert int(r.headers["retry-after"]) == 15 * 60
        # Locked: even the right password is refused, with the same words.
        r = await sign_in(client)
        assert r.status_code == 423 and "登录失败次数过多" in r.json()["detail"]
        clock.advance(minutes=15, seconds=1)
        assert (await sign_in(client)).status_code == 200


async def test_a_second_lock_lasts_twice_as_long(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, clock):
        for _ in range(5):
            await sign_in(client, password="wrong-password")
        clock.advance(minutes=16)
        for _ in range(5):
            r = await sign_in(client, password="wrong-password")
        assert r.status_code == 423 and int(r.headers["retry-after"]) == 30 * 60


async def test_the_lock_message_does_not_tell_whether_the_user_exists(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        answers = {}
        for name in ("office", "nobody"):
            for _ in range(5):
                r = await sign_in(client, username=name, password="wrong-password")
            answers[name] = (r.status_code, r.json()["detail"], r.headers["retry-after"])
        assert answers["office"] == answers["nobody"]
        assert answers["office"][0] == 423


async def test_lockout_is_logged(settings_factory, caplog):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        with caplog.at_level("INFO", logger="plantrack.accounts"):
            for _ in range(5):
                await sign_in(client, password="wrong-password")
        assert any("sign-in locked for user:office" in m for m in caplog.messages)
        assert not any("wrong-password" in m for m in caplog.messages)


async def test_an_admin_password_reset_lifts_the_lock(settings_factory):
    async with signed_in_world(settings_factory) as (client, _, accounts, _c):
        for _ in range(5):
            await sign_in(client, password="wrong-password")
        _, password = accounts.reset_password("office")
        assert (await sign_in(client, password=password)).status_code == 200


async def test_many_failures_from_one_address_are_throttled_whatever_the_names(settings_factory):
    async with signed_in_world(settings_factory, login_address_max_failures=6) as (
        client,
        _,
        _a,
        clock,
    ):
        for i in range(6):
            r = await sign_in(client, username=f"guess{i}", password="wrong-password")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert (await sign_in(client)).status_code == 429  # a real account, from that address
        clock.advance(minutes=16)
        assert (await sign_in(client)).status_code == 200


@pytest.mark.parametrize("kind", ["session", "admin token"])
async def test_api_keys_are_created_used_and_revoked(settings_factory, tokens, kind):
    async with signed_in_world(settings_factory) as (client, stand, accounts, clock):
        headers = auth(tokens["admin"])
        if kind == "session":
            accounts.add_user(username="root", roles=["admin"], password=PASSWORD)
            csrf = (await sign_in(client, username="root")).json()["csrf_token"]
            headers = {"X-CSRF-Token": csrf}
        expires = (clock.now + timedelta(days=30)).isoformat()
        r = await client.post(
            "/api/v1/api-keys",
            json={"name": "区大数据中心看板", "role": "viewer", "expires_at": expires},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        created = r.json()
        key = created["key"]
        assert key.startswith(created["prefix"]) and created["state"] == "active"
        client.cookies.clear()
        # Listed without the key itself; last use unknown until it is used.
        listed = (await client.get("/api/v1/api-keys", headers=auth(tokens["admin"]))).json()
        assert listed["total"] == 1 and "key" not in listed["items"][0]
        assert listed["items"][0]["last_used_at"] is None

        assert (await client.get("/api/v1/projects", headers=auth(key))).status_code == 200
        seen = stand.upstreams["projects"].headers["GET /api/v1/projects"]
        claims = jwt.decode(seen["authorization"].split()[1], TEST_SECRET, algorithms=["HS256"])
        assert claims["roles"] == ["viewer"] and claims["name"] == "区大数据中心看板"
        # A viewer key cannot write, and needs no CSRF token to be told so.
        r = await client.post("/api/v1/projects", json={"name": "x"}, headers=auth(key))
        assert r.status_code == 403
        listed = (await client.get("/api/v1/api-keys", headers=auth(tokens["admin"]))).json()
        assert datetime.fromisoformat(listed["items"][0]["last_used_at"]) == clock.now

        r = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=auth(tokens["admin"]))
        assert r.status_code == 204
        assert (await client.get("/api/v1/projects", headers=auth(key))).status_code == 401


async def test_an_api_key_stops_working_when_it_expires(settings_factory, tokens):
    async with signed_in_world(settings_factory) as (client, _, _a, clock):
        expires = (clock.now + timedelta(days=1)).isoformat()
        r = await client.post(
            "/api/v1/api-keys",
            json={"name": "script", "role": "project_office", "expires_at": expires},
            headers=auth(tokens["admin"]),
        )
        key = r.json()["key"]
        assert (await client.get("/api/v1/me", headers=auth(key))).status_code == 200
        clock.advance(days=1)
        r = await client.get("/api/v1/me", headers=auth(key))
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
        listed = (await client.get("/api/v1/api-keys", headers=auth(tokens["admin"]))).json()
        assert listed["items"][0]["state"] == "expired"


async def test_only_admins_manage_keys_and_users(settings_factory, tokens):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        csrf = (await sign_in(client)).json()["csrf_token"]
        for method, path in [
            ("GET", "/api/v1/users"),
            ("POST", "/api/v1/users"),
            ("PATCH", "/api/v1/users/office"),
            ("POST", "/api/v1/users/office/reset-password"),
            ("GET", "/api/v1/api-keys"),
            ("POST", "/api/v1/api-keys"),
            ("DELETE", "/api/v1/api-keys/1"),
        ]:
            r = await client.request(method, path, json={}, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 403, (method, path, r.text)
            r = await client.request(method, path, json={}, headers=auth(tokens["viewer"]))
            assert r.status_code == 403, (method, path)


async def test_an_admin_adds_changes_and_disables_a_person_through_the_api(
    settings_factory, tokens
):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        admin = auth(tokens["admin"])
        r = await client.post(
            "/api/v1/users",
            json={"username": "zhang.wei", "display_name": "张伟", "roles": ["viewer"]},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        generated = r.json()["password"]
        assert len(generated) == 16 and r.headers["etag"] == '"1"'
        r = await client.patch(
            "/api/v1/users/zhang.wei", json={"roles": ["project_office"]}, headers=admin
        )
        assert r.status_code == 428
        r = await client.patch(
            "/api/v1/users/zhang.wei",
            json={"roles": ["project_office", "viewer"], "sub_districts": ["白石街道"]},
            headers={**admin, "If-Match": '"1"'},
        )
        assert r.status_code == 200 and r.json()["roles"] == ["project_office", "viewer"]
        r = await client.patch(
            "/api/v1/users/zhang.wei", json={"disabled": True}, headers={**admin, "If-Match": '"1"'}
        )
        assert r.status_code == 412
        me = (await sign_in(client, username="zhang.wei", password=generated)).json()
        assert me["sub_districts"] == ["白石街道"]
        r = await client.patch(
            "/api/v1/users/zhang.wei", json={"disabled": True}, headers={**admin, "If-Match": '"2"'}
        )
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert (await client.get("/api/v1/me")).status_code == 401
        users = (await client.get("/api/v1/users", headers=admin)).json()
        assert [u["username"] for u in users["items"]] == ["office", "zhang.wei"]


async def test_a_weak_password_is_refused_naming_the_field(settings_factory, tokens):
    async with signed_in_world(settings_factory) as (client, _, _a, _c):
        for password in ("short", "password123", "1qaz2wsx3edc", "woaini1314", "zhang.wei-2025"):
            r = await client.post(
                "/api/v1/users",
                json={"username": "zhang.wei", "roles": ["viewer"], "password": password},
                headers=auth(tokens["admin"]),
            )
            assert r.status_code == 422, password
            assert r.json()["errors"][0]["loc"] == ["password"]
