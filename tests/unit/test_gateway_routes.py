"""The gateway's route table, per-route metric labels, the rate limiter and the OpenAPI merge."""

from __future__ import annotations

import pytest

from gateway.openapi import merge
from gateway.ratelimit import RateLimiter, TooManyRequests
from gateway.routes import RouteTemplates, permission_for, rule_for
from services.common.auth import Permission


@pytest.mark.parametrize(
    ("method", "path", "service", "permission"),
    [
        ("GET", "/api/v1/projects", "projects", Permission.read),
        ("POST", "/api/v1/projects/4/transitions", "projects", Permission.write_projects),
        ("PATCH", "/api/v1/blockers/3", "projects", Permission.write_projects),
        ("GET", "/api/v1/pipeline", "projects", Permission.read),
        ("POST", "/api/v1/enterprises/import", "enterprises", Permission.write_enterprises),
        ("GET", "/api/v1/designations/expiring", "enterprises", Permission.read),
        ("POST", "/api/v1/targets/t1/reports", "events", Permission.report_targets),
        ("POST", "/api/v1/admin/replay", "events", Permission.administer),
        ("GET", "/api/v1/admin/replay", "events", Permission.administer),
        # an import job is read where it ran, by whoever may import there
        ("GET", "/api/v1/jobs/p-3f2a", "projects", Permission.write_projects),
        ("GET", "/api/v1/jobs/e-3f2a", "enterprises", Permission.write_enterprises),
        ("GET", "/api/v1/jobs/unknown", "projects", Permission.write_projects),
    ],
)
def test_each_path_has_one_owner_and_one_permission(method, path, service, permission):
    assert rule_for(path).service == service
    assert permission_for(method, path) is permission


def test_a_prefix_only_matches_whole_segments():
    assert rule_for("/api/v1/projectsx") is None
    assert permission_for("GET", "/api/v1/elsewhere") is None


def test_metric_labels_are_route_templates_not_ids():
    templates = RouteTemplates()
    templates.load(["/api/v1/projects/{id}", "/api/v1/projects/export", "/api/v1/projects"])
    assert templates.template("/api/v1/projects/export") == "/api/v1/projects/export"
    assert templates.template("/api/v1/projects/77") == "/api/v1/projects/{id}"
    # Before the services' schemas are known, numeric and USCC segments are folded.
    assert RouteTemplates().template("/api/v1/enterprises/by-uscc/91110000600037341L") == (
        "/api/v1/enterprises/by-uscc/{id}"
    )


def test_the_rate_limit_refills_with_time():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    for _ in range(60):
        limiter.take("k")
    with pytest.raises(TooManyRequests) as caught:
        limiter.take("k")
    assert caught.value.extra == {"retry_after": 1}
    now[0] += 1.0
    limiter.take("k")


def test_merged_openapi_keeps_every_service_path_and_renames_clashing_schemas():
    own = {
        "openapi": "3.1.0",
        "paths": {"/api/v1/stream": {"get": {}}},
        "components": {"schemas": {"Page": {"type": "object"}}},
    }
    service = {
        "paths": {
            "/api/v1/projects": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Page"}
                                }
                            }
                        }
                    }
                }
            },
            "/healthz": {"get": {}},
        },
        "components": {"schemas": {"Page": {"type": "array"}}},
    }
    doc = merge(own, {"projects": service})
    assert set(doc["paths"]) == {"/api/v1/stream", "/api/v1/projects"}
    op = doc["paths"]["/api/v1/projects"]["get"]
    assert op["tags"] == ["projects"] and op["security"] == [{"bearer": []}, {"session": []}]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/projects__Page"
    assert doc["components"]["schemas"]["Page"] == {"type": "object"}
