"""The gateway checks what it forwards: paths, bodies, redirects, headers, metrics, rates."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from prometheus_client import REGISTRY

from services.common.auth import issue_token
from tests.conftest import TEST_SECRET, auth
from tests.unit.gateway_kit import gateway_over_stand

PROBLEM = "application/problem+json"


async def raw_get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET `path` byte for byte (an HTTP client would normalise `..` away before sending)."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    lines = [f"GET {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()
    answer = (await reader.read()).decode("utf-8", "replace")
    writer.close()
    return int(answer.split(" ", 2)[1]), answer


async def test_dot_segments_encoded_slashes_and_controls_are_refused_before_authorisation(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory, over_http=True) as (client, stand, _):
        base = str(client.base_url)
        for path in (
            "/api/v1/targets/../rollup/facts",
            "/api/v1/targets/%2e%2e/rollup/facts",
            "/api/v1/projects/./1",
            "/api/v1/projects/%00",
            "/api/v1/projects/a%2Fb",
            "/api/v1/projects/a%5c..%5cb",
            "/api/v1/projects/%0d%0aX-Injected:%201",
        ):
            for headers in ({}, auth(tokens["admin"])):
                status, answer = await raw_get(base, path, headers)
                assert status == 400, (path, answer)
                assert PROBLEM in answer and '"loc": ["path"]' in answer.replace('":[', '": [')
        assert not any(k.startswith("GET /api") for u in stand.upstreams.values() for k in u.calls)


async def test_a_redirect_from_a_service_never_names_its_address(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, stand, _):
        r = await client.get("/api/v1/projects/", headers=auth(tokens["viewer"]))
        assert r.status_code == 307
        assert r.headers["location"] == "/api/v1/projects"
        assert str(stand.ports["projects"]) not in r.text + str(r.headers)


async def test_date_and_server_headers_come_once(settings_factory, tokens):
    async with gateway_over_stand(settings_factory, over_http=True) as (client, _, _a):
        r = await client.get("/api/v1/projects", headers=auth(tokens["viewer"]))
        assert r.status_code == 200
        assert len(r.headers.get_list("date")) == 1
        assert len(r.headers.get_list("server")) <= 1


async def test_bodies_over_the_limit_are_413_without_being_read_whole(settings_factory, tokens):
    async with gateway_over_stand(settings_factory, over_http=True, upload_max_mb=1) as (
        client,
        stand,
        _,
    ):
        viewer = auth(tokens["viewer"])
        r = await client.request(
            "GET", "/api/v1/projects", headers=viewer, content=b"x" * 3_000_000
        )
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM

        async def endless() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            for _ in range(300):
                yield b"x" * 64 * 1024

        r = await client.post("/api/v1/projects", headers=auth(tokens["admin"]), content=endless())
        assert r.status_code == 413, r.text
        files = {"file": ("台账.csv", b"x" * 2_000_000, "text/csv")}
        r = await client.post("/api/v1/projects/import", headers=auth(tokens["admin"]), files=files)
        assert r.status_code == 413 and "upload" in r.json()["detail"]
        assert stand.upstreams["projects"].calls["POST /api/v1/projects"] == 0
        assert stand.upstreams["projects"].calls["GET /api/v1/projects"] == 0
        r = await client.post("/api/v1/projects", headers=auth(tokens["admin"]), json={"name": "x"})
        assert r.status_code == 201


def route_labels() -> set[str]:
    return {
        s.labels["route"]
        for metric in REGISTRY.collect()
        if metric.name == "plantrack_http_request_duration_seconds"
        for s in metric.samples
        if "route" in s.labels
    }


async def test_metrics_are_labelled_by_route_template_whatever_paths_are_invented(
    settings_factory, tokens
):
    async with gateway_over_stand(settings_factory) as (client, _, _a):
        before = route_labels()
        for _ in range(30):
            junk = uuid.uuid4().hex
            await client.get(f"/api/v1/projects/{junk}/x{junk}", headers=auth(tokens["viewer"]))
        new = route_labels() - before
        assert len(new) <= 1, new
        assert not any("x" in label and len(label) > 60 for label in new)


async def test_metrics_answer_this_machine_or_the_scrape_token_only(settings_factory):
    async with gateway_over_stand(settings_factory, metrics_token="s" * 32) as (client, _, _a):
        assert (await client.get("/metrics")).status_code == 200
        relayed = {"X-Forwarded-For": "203.0.113.9"}
        assert (await client.get("/metrics", headers=relayed)).status_code == 404
        with_token = {**relayed, "Authorization": "Bearer " + "s" * 32}
        assert (await client.get("/metrics", headers=with_token)).status_code == 200


async def test_pages_send_security_headers(settings_factory):
    async with gateway_over_stand(settings_factory) as (client, _, _a):
        r = await client.get("/")
        assert r.status_code == 200
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert (await client.get("/healthz")).headers["x-content-type-options"] == "nosniff"


async def test_the_rate_limit_is_per_subject_not_per_token_string(settings_factory):
    async with gateway_over_stand(settings_factory, rate_limit_per_minute=3) as (client, _, _a):
        for n in range(3):  # three tokens of one person, each a different string
            token = issue_token(TEST_SECRET, "viewer", subject="李敏", ttl_seconds=3600 + n)
            assert (await client.get("/api/v1/projects", headers=auth(token))).status_code == 200
        token = issue_token(TEST_SECRET, "viewer", subject="李敏", ttl_seconds=7200)
        assert (await client.get("/api/v1/projects", headers=auth(token))).status_code == 429
