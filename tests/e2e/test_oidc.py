"""Single sign-on against a real OpenID provider: the `oidc-provider` package from the npm
registry, run by the machine's Node (installed with `npm install --prefix tests/oidc`).

A cookie-keeping HTTP client plays the browser: it follows the redirects, fills in the
provider's sign-in and consent forms, and comes back to the gateway with a code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from services.common.natsserver import free_port, port_open
from tests.unit.gateway_kit import gateway_over_stand

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID, CLIENT_SECRET = "plantrack", "test-client-secret-0123456789"
PEOPLE = {
    # groups → roles through the gateway's map; district → the person's scope
    "zhang.wei": {"name": "项目办 张伟", "groups": ["plantrack-office"], "district": ["向阳街道"]},
    "chen.gang": {"name": "区领导 陈刚", "groups": ["plantrack-viewer", "staff"]},
    "visitor": {"name": "访客", "groups": ["staff"]},
}


class OpenIdProvider:
    """The provider process, on its own port, with the people above."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, redirect_uri: str) -> None:
        node = shutil.which("node")
        assert node, "Node.js is needed for the OpenID provider of the tests"
        assert (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir(), (
            "the OpenID provider is not installed: npm install --prefix tests/oidc"
        )
        self.proc = subprocess.Popen(
            [node, "provider.mjs", str(self.port), CLIENT_ID, CLIENT_SECRET, redirect_uri,
             json.dumps(PEOPLE)],
            cwd=PROVIDER_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not port_open(self.port):
            assert self.proc.poll() is None, self.proc.stdout.read() if self.proc.stdout else ""
            assert time.monotonic() < deadline, "the OpenID provider did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def provider() -> Iterator[OpenIdProvider]:
    op = OpenIdProvider(free_port())
    yield op
    op.stop()


def form_of(html: str, base: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's (first) form."""
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action, html[:500]
    fields = dict(
        re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)
    )
    return urljoin(base, action.group(1)), fields


async def sign_on(browser: httpx.AsyncClient, gateway: str, login: str) -> httpx.Response:
    """Through the provider's pages and back; answers the gateway's last response."""
    r = await browser.get(f"{gateway}/auth/oidc/login", params={"next": "/app/projects"})
    assert r.status_code == 302, r.text
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    r = await browser.get(r.headers["location"], follow_redirects=True)
    for _ in range(4):  # the sign-in form, then the consent form
        if urlsplit(str(r.url)).netloc == urlsplit(gateway).netloc:
            return r
        action, fields = form_of(r.text, str(r.url))
        if "login" in r.text and 'name="login"' in r.text:
            fields |= {"login": login, "password": "any"}
        r = await browser.post(action, data=fields)
        while r.is_redirect and urlsplit(r.headers["location"]).path != "/auth/oidc/callback":
            r = await browser.get(urljoin(str(r.url), r.headers["location"]))
        if r.is_redirect:  # back to the gateway with a code
            return await browser.get(r.headers["location"])
    raise AssertionError(f"the provider's pages did not lead back: {r.url} {r.text[:300]}")


@asynccontextmanager
async def gateway_with_sso(
    settings_factory: Any, provider: OpenIdProvider, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = {
        "oidc_issuer": provider.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_roles_claim": "groups",
        "oidc_role_map": {"plantrack-office": "project_office", "plantrack-viewer": "viewer"},
        "oidc_sub_district_claim": "district",
        **overrides,
    }
    async with gateway_over_stand(settings_factory, over_http=True, **settings) as (c, _, app):
        provider.start(str(c.base_url).rstrip("/") + "/auth/oidc/callback")
        yield c, app


async def test_a_person_signs_on_with_roles_and_scope_from_the_providers_claims(
    settings_factory, provider
):
    async with gateway_with_sso(settings_factory, provider) as (client, app):
        gateway = str(client.base_url).rstrip("/")
        async with httpx.AsyncClient(timeout=20) as browser:
            r = await sign_on(browser, gateway, "zhang.wei")
            assert r.status_code == 303 and r.headers["location"] == "/app/projects"
            assert "plantrack_session=" in r.headers["set-cookie"]
            me = (await browser.get(f"{gateway}/api/v1/me")).json()
            assert me["username"] == "zhang.wei" and me["display_name"] == "项目办 张伟"
            assert me["roles"] == ["project_office"] and me["sub_districts"] == ["向阳街道"]
            assert me["csrf_token"]
        # The account was created on first sign-in, and is an account like any other.
        user = app.state.accounts.get_user("zhang.wei")
        assert user.roles == ["project_office"] and not user.has_password
        # A second sign-in finds the same account rather than making another.
        async with httpx.AsyncClient(timeout=20) as browser:
            assert (await sign_on(browser, gateway, "zhang.wei")).status_code == 303
        assert [u.username for u in app.state.accounts.list_users()] == ["zhang.wei"]


async def test_a_claim_value_maps_to_its_role_and_unmapped_values_are_ignored(
    settings_factory, provider
):
    async with gateway_with_sso(settings_factory, provider) as (client, _):
        gateway = str(client.base_url).rstrip("/")
        async with httpx.AsyncClient(timeout=20) as browser:
            assert (await sign_on(browser, gateway, "chen.gang")).status_code == 303
            me = (await browser.get(f"{gateway}/api/v1/me")).json()
            assert me["roles"] == ["viewer"] and me["sub_districts"] == []
        async with httpx.AsyncClient(timeout=20) as browser:
            r = await sign_on(browser, gateway, "visitor")
            assert r.status_code == 403 and "groups" in r.json()["detail"]
            assert "plantrack_session" not in r.headers.get("set-cookie", "")


async def test_a_callback_replayed_or_carried_to_another_browser_is_refused(
    settings_factory, provider
):
    async with gateway_with_sso(settings_factory, provider) as (client, _):
        gateway = str(client.base_url).rstrip("/")
        async with httpx.AsyncClient(timeout=20) as browser:
            r = await sign_on(browser, gateway, "zhang.wei")
            assert r.status_code == 303
            callback = str(r.request.url)
            # The same code and state again: the round trip is used up.
            again = await browser.get(callback)
            assert again.status_code == 401
        async with httpx.AsyncClient(timeout=20) as other:
            assert (await other.get(callback)).status_code == 401


async def test_single_sign_on_is_404_where_it_is_not_configured(settings_factory):
    async with gateway_over_stand(settings_factory) as (client, _, _app):
        r = await client.get("/auth/oidc/login")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
