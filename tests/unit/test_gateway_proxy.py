"""The gateway checks tokens and rights before any service is called, then forwards faithfully."""

from __future__ import annotations

import math
import time

import httpx
import pytest

from gateway.proxy import Upstreams, UpstreamUnavailable
from tests.conftest import TEST_SECRET, auth
from tests.unit.gateway_kit import gateway_over_stand

PROBLEM = "application/problem+json"


async def test_every_api_route_without_a_token_is_401_before_any_service_is_called(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory) as (client, stand, _):
        for method, path in [
            ("GET", "/api/v1/dashboard/overview"),
            ("GET", "/api/v1/stream"),
            ("GET", "/api/v1/projects"),
            ("POST", "/api/v1/projects"),
            ("POST", "/api/v1/admin/replay"),
            ("GET", "/api/v1/no-such-thing"),
        ]:
            r = await client.request(method, path)
            assert r.status_code == 401, (method, path)
            assert r.headers["content-type"] == PROBLEM
            assert r.headers["www-authenticate"] == "Bearer"
            assert "Bearer" in r.json()["detail"]
        r = await client.get("/api/v1/projects", headers=auth("not-a-token"))
        assert r.status_code == 401
        assert r.json()["detail"] == "The bearer token is not valid for this deployment."
        assert not any(
            k.startswith(("GET /api", "POST /api"))
            for u in stand.upstreams.values()
            for k in u.calls
        )


async def test_a_write_without_the_right_is_403_and_never_reaches_the_service(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory) as (client, stand, _):
        r = await client.post(
            "/api/v1/projects", json={"name": "x"}, headers=auth(tokens["viewer"])
        )
        assert r.status_code == 403
        assert r.headers["content-type"] == PROBLEM
        assert "'viewer' may not POST /api/v1/projects (needs write_projects)" in r.json()["detail"]
        r = await client.post(
            "/api/v1/projects", json={"name": "x"}, headers=auth(tokens["investment_promotion"])
        )
        assert r.status_code == 403
        assert stand.upstreams["projects"].calls["POST /api/v1/projects"] == 0


async def test_a_permitted_write_is_forwarded_with_the_token_and_the_request_id(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory) as (client, stand, _):
        r = await client.post(
            "/api/v1/projects",
            json={"name": "芝罘区某小学新建工程"},
            headers=auth(tokens["project_office"], **{"X-Request-ID": "req-abc-123"}),
        )
        assert r.status_code == 201
        assert r.json()["name"] == "芝罘区某小学新建工程"
        assert r.json()["by"] == "project_office-tester"  # the service verified the token itself
        assert r.headers["x-request-id"] == "req-abc-123"
        seen = stand.upstreams["projects"].headers["POST /api/v1/projects"]
        assert seen["x-request-id"] == "req-abc-123"
        assert seen["authorization"] == f"Bearer {tokens['project_office']}"


async def test_a_read_keeps_its_query_and_large_bodies_stream_through(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, _, _app):
        r = await client.get(
            "/api/v1/projects?stage=building&q=%E5%AD%A6", headers=auth(tokens["viewer"])
        )
        assert r.status_code == 200
        assert r.json()["query"] == "stage=building&q=%E5%AD%A6"
        assert r.headers["x-request-id"]  # one is made when the caller sends none
        r = await client.get("/api/v1/projects/export", headers=auth(tokens["viewer"]))
        assert r.status_code == 200
        assert len(r.content) == 300_000


async def test_an_unknown_api_path_is_404_for_an_authenticated_caller(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, _, _app):
        r = await client.get("/api/v1/nowhere", headers=auth(tokens["admin"]))
        assert r.status_code == 404
        assert r.json()["detail"] == "No API route at /api/v1/nowhere."


async def test_a_service_that_is_down_is_named_in_a_503(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, stand, _):
        await stand.stop("enterprises")
        r = await client.get("/api/v1/enterprises", headers=auth(tokens["viewer"]))
        assert r.status_code == 503
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["service"] == "enterprises"
        assert "enterprises service is not reachable" in r.json()["detail"]


async def test_calls_beyond_the_rate_of_a_token_are_429_with_retry_after(settings_factory, tokens):
    async with gateway_over_stand(settings_factory, rate_limit_per_minute=3) as (client, _, _a):
        started = time.monotonic()
        for _ in range(3):
            r = await client.get("/api/v1/projects", headers=auth(tokens["viewer"]))
            assert r.status_code == 200
        r = await client.get("/api/v1/projects", headers=auth(tokens["viewer"]))
        assert r.status_code == 429
        # a call is earned back every 20 s, counted from the first call of the three
        waited = time.monotonic() - started
        assert 20 - math.ceil(waited) <= int(r.headers["retry-after"]) <= 20
        assert "More than 3 calls a minute" in r.json()["detail"]
        # Another token has its own allowance.
        r = await client.get("/api/v1/projects", headers=auth(tokens["admin"]))
        assert r.status_code == 200


def _flaky(fails: int) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if len(seen) <= fails:
            raise httpx.RemoteProtocolError("connection reset", request=request)
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler), seen


async def test_reads_are_retried_after_a_transport_error(settings_factory):
    transport, seen = _flaky(fails=2)
    upstreams = Upstreams(settings_factory(secret=TEST_SECRET), transport=transport)
    r = await upstreams.send("projects", "GET", "/api/v1/projects")
    assert r.status_code == 200
    assert seen == ["GET", "GET", "GET"]
    await upstreams.aclose()


async def test_writes_are_never_retried(settings_factory):
    transport, seen = _flaky(fails=1)
    upstreams = Upstreams(settings_factory(secret=TEST_SECRET), transport=transport)
    with pytest.raises(UpstreamUnavailable) as caught:
        await upstreams.send("projects", "POST", "/api/v1/projects", content=b"{}")
    assert caught.value.extra == {"service": "projects"}
    assert seen == ["POST"]
    await upstreams.aclose()
