"""The authorisation matrix over every service route: only the roles that hold the right get in.

The routes come from each running service's OpenAPI, so the matrix grows with the services;
which role may do what comes from the gateway's route table, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest

from gateway.routes import OWN_ROUTES, permission_for
from services.common.auth import GRANTS, Role
from services.common.settings import SERVICES
from tests.e2e.conftest import System

METHODS = ("get", "head", "post", "put", "patch", "delete")
WRITES = ("post", "put", "patch", "delete")
PARAM = re.compile(r"\{[^}]+\}")
DUE = (date.today() + timedelta(days=30)).isoformat()


def existing_objects(system: System) -> dict[str, str]:
    """One of each thing a path can name, so a route reaches its permission check on a real
    object (a service may load the object before it checks the role)."""
    ids: dict[str, str] = {}
    with httpx.Client(base_url=system.url, headers=system.headers(Role.admin), timeout=30) as c:

        def make(path: str, body: dict) -> str:
            r = c.post(path, json=body)
            assert r.status_code == 201, f"{path}: {r.status_code} {r.text}"
            return str(r.json()["id"])

        ids["project_id"] = pid = make(
            "/api/v1/projects", {"name": "矩阵测试项目", "category": "road"}
        )
        base = f"/api/v1/projects/{pid}"
        ids["milestone_id"] = make(f"{base}/milestones", {"kind": "start", "title": "开工"})
        ids["blocker_id"] = make(
            f"{base}/blockers", {"kind": "land", "description": "用地", "due_on": DUE}
        )
        uscc = "91370602MA3C8X9Y1R"
        ids["uscc"] = uscc
        ids["enterprise_id"] = eid = make("/api/v1/enterprises", {"uscc": uscc, "name": "矩阵测试"})
        ids["designation_id"] = make(
            f"/api/v1/enterprises/{eid}/designations",
            {"type": "high_tech", "granted_on": "2024-01-02"},
        )
    return ids


def service_routes(system: System, ids: dict[str, str]) -> list[tuple[str, str, str]]:
    """(service, METHOD, concrete path) for every /api/ operation the services publish."""
    routes = []
    for service in SERVICES:
        for template, item in system.openapi(service).get("paths", {}).items():
            if not template.startswith("/api/"):
                continue
            path = PARAM.sub(lambda m: ids.get(m.group(0)[1:-1], "1"), template)
            routes += [(service, m.upper(), path) for m in item if m in METHODS]
    return routes


@pytest.fixture(scope="module")
def routes(system: System) -> list[tuple[str, str, str]]:
    found = service_routes(system, existing_objects(system))
    writers = {service for service, method, _ in found if method.lower() in WRITES}
    assert {"projects", "enterprises"} <= writers, f"services publish no write routes: {found}"
    return found


def test_every_api_route_without_a_token_is_401_at_the_gateway_and_at_the_service(
    system: System, routes: list[tuple[str, str, str]]
):
    wrong = []
    with httpx.Client(timeout=10) as client:
        own = [("gateway", m, p) for m, p in OWN_ROUTES]
        for service, method, path in own + routes:
            bases = [system.url] + ([system.service_url(service)] if service in SERVICES else [])
            for base in bases:
                for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
                    r = client.request(method, base + path, headers=headers, json={})
                    if r.status_code != 401 or (
                        method != "HEAD" and r.headers["content-type"] != "application/problem+json"
                    ):
                        wrong.append(f"{method} {base}{path} {headers}: {r.status_code}")
    assert not wrong, "\n".join(wrong)


def test_every_write_route_admits_exactly_the_roles_that_hold_its_permission(
    system: System, routes: list[tuple[str, str, str]]
):
    wrong = []
    writes = [(s, m, p) for s, m, p in routes if m.lower() in WRITES]
    with httpx.Client(timeout=30) as client:
        for service, method, path in writes:
            needed = permission_for(method, path)
            assert needed is not None, f"the gateway does not route {method} {path}"
            for role in Role:
                allowed = needed in GRANTS[role]
                for base in (system.url, system.service_url(service)):
                    r = client.request(method, base + path, headers=system.headers(role), json={})
                    passed = r.status_code not in (401, 403) and r.status_code < 500
                    if passed != allowed or (not allowed and r.status_code != 403):
                        wrong.append(
                            f"{role.value:<21} {method} {base}{path}: {r.status_code} "
                            f"(expected {'through' if allowed else '403'}) {r.text[:120]}"
                        )
    assert writes
    assert not wrong, "\n".join(wrong)
