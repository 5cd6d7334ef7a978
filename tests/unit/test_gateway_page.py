"""What is open without a token: the page, its assets, health, metrics and the aggregated docs."""

from __future__ import annotations

from tests.conftest import auth
from tests.unit.gateway_kit import gateway_over_stand


async def test_the_dashboard_page_and_its_assets_are_served_without_a_token(settings_factory):
    async with gateway_over_stand(settings_factory) as (client, _, _app):
        r = await client.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "芝罘区" in r.text
        r = await client.get("/static/app.js")
        assert r.status_code == 200
        assert "javascript" in r.headers["content-type"]
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": "gateway"}


async def test_readyz_reports_every_service_and_nats(settings_factory):
    async with gateway_over_stand(settings_factory) as (client, _, app):
        await app.state.runtime.nats_ready.wait()
        r = await client.get("/readyz")
        assert r.status_code == 200
        assert set(r.json()["services"]) == {"projects", "enterprises", "events"}
        assert r.json()["nats"] == {"ready": True}


async def test_metrics_have_latency_per_route_and_a_gauge_per_target(settings_factory, tokens):
    async with gateway_over_stand(settings_factory) as (client, _, _app):
        await client.get("/openapi.json")  # the gateway learns the services' route templates
        await client.get("/api/v1/dashboard/overview", headers=auth(tokens["viewer"]))
        await client.get("/api/v1/projects/12345", headers=auth(tokens["viewer"]))
        text = (await client.get("/metrics")).text
        assert 'route="/api/v1/dashboard/overview",service="gateway"' in text
        assert 'route="/api/v1/projects/{project_id}",service="gateway"' in text
        assert "/api/v1/projects/12345" not in text
        assert 'plantrack_target_current_value{clause="50",target="t50_schools"} 4.0' in text
        assert 'plantrack_target_progress_ratio{target="t50_schools"} 0.31' in text


async def test_the_docs_aggregate_the_services_api(settings_factory):
    async with gateway_over_stand(settings_factory) as (client, _, _app):
        doc = (await client.get("/openapi.json")).json()
        assert "/api/v1/dashboard/overview" in doc["paths"]
        assert "/api/v1/stream" in doc["paths"]
        assert "post" in doc["paths"]["/api/v1/projects"]
        assert "/api/v1/designations/expiring" in doc["paths"]
        assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        r = await client.get("/docs")
        assert r.status_code == 200 and "/openapi.json" in r.text
