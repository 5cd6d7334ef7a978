"""The authorisation matrix over every service route: routes × roles × scope × credential kind.

The routes come from each running service's OpenAPI, so the matrix grows with the services;
which role may do what comes from the gateway's route table, so the two cannot drift apart.
Credentials are of every kind a caller can hold: an operations token, a person's session
cookie (with its CSRF token), an API key, and the signed identity the gateway passes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from gateway.routes import ACCOUNT_ROUTES, OWN_ROUTES, permission_for
from services.common.auth import GRANTS, Role, issue_identity
from services.common.settings import SERVICES
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import System
from tests.integration.enterprises_kit import make_uscc

METHODS = ("get", "head", "post", "put", "patch", "delete")
WRITES = ("post", "put", "patch", "delete")
PARAM = re.compile(r"\{[^}]+\}")
DUE = (date.today() + timedelta(days=30)).isoformat()
SCOPE, ELSEWHERE = "向阳街道", "只楚街道"
PASSWORD = "矩阵-测试-password-2025"
KINDS = ("token", "session", "api_key")


def existing_objects(
    system: System, sub_district: str | None = None, uscc: str = "91370602MA3C8X9Y1R"
) -> dict[str, str]:
    """One of each thing a path can name, so a route reaches its permission check on a real
    object (a service may load the object before it checks the role)."""
    ids: dict[str, str] = {}
    where = {"sub_district": sub_district} if sub_district else {}
    with httpx.Client(base_url=system.url, headers=system.headers(Role.admin), timeout=30) as c:

        def make(path: str, body: dict) -> str:
            r = c.post(path, json=body)
            assert r.status_code == 201, f"{path}: {r.status_code} {r.text}"
            return str(r.json()["id"])

        ids["project_id"] = pid = make(
            "/api/v1/projects", {"name": "矩阵测试项目", "category": "road", **where}
        )
        base = f"/api/v1/projects/{pid}"
        ids["milestone_id"] = make(f"{base}/milestones", {"kind": "start", "title": "开工"})
        ids["blocker_id"] = make(
            f"{base}/blockers", {"kind": "land", "description": "用地", "due_on": DUE}
        )
        ids["uscc"] = uscc
        ids["enterprise_id"] = eid = make(
            "/api/v1/enterprises", {"uscc": uscc, "name": "矩阵测试", **where}
        )
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
        own = [("gateway", m, p) for m, p in OWN_ROUTES + ACCOUNT_ROUTES]
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


@dataclass
class Caller:
    """A credential of one kind for one role: the headers a client sends with it."""

    headers: dict[str, str]
    to_services: bool  # whether the services themselves accept it (not a cookie, not a key)


def sign_in(system: System, username: str) -> dict[str, str]:
    """A person's browser after signing in: the session cookie and the CSRF token header."""
    r = httpx.post(
        system.url + "/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    cookie = r.cookies["plantrack_session"]
    return {"Cookie": f"plantrack_session={cookie}", "X-CSRF-Token": r.json()["csrf_token"]}


def add_person(system: System, username: str, role: Role, scope: list[str]) -> None:
    r = httpx.post(
        system.url + "/api/v1/users",
        json={"username": username, "roles": [role.value], "sub_districts": scope,
              "display_name": f"矩阵 {role.value}", "password": PASSWORD},
        headers=system.headers(Role.admin),
        timeout=30,
    )  # fmt: skip
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def callers(system: System) -> dict[tuple[str, Role], Caller]:
    """Every role with every kind of credential, unscoped."""
    out: dict[tuple[str, Role], Caller] = {}
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for role in Role:
        out["token", role] = Caller(system.headers(role), to_services=True)
        add_person(system, f"m-{role.value.replace('_', '-')}", role, [])
        out["session", role] = Caller(
            sign_in(system, f"m-{role.value.replace('_', '-')}"), to_services=False
        )
        r = httpx.post(
            system.url + "/api/v1/api-keys",
            json={"name": f"矩阵 {role.value}", "role": role.value, "expires_at": expires},
            headers=system.headers(Role.admin),
            timeout=30,
        )
        assert r.status_code == 201, r.text
        out["api_key", role] = Caller(
            {"Authorization": f"Bearer {r.json()['key']}"}, to_services=False
        )
    return out


def test_every_write_route_admits_exactly_the_roles_that_hold_its_permission(
    system: System,
    routes: list[tuple[str, str, str]],
    callers: dict[tuple[str, Role], Caller],
):
    wrong = []
    writes = [(s, m, p) for s, m, p in routes if m.lower() in WRITES]
    with httpx.Client(timeout=30) as client:
        for service, method, path in writes:
            needed = permission_for(method, path)
            assert needed is not None, f"the gateway does not route {method} {path}"
            for (kind, role), caller in callers.items():
                allowed = needed in GRANTS[role]
                bases = [system.url] + ([system.service_url(service)] if caller.to_services else [])
                for base in bases:
                    r = client.request(method, base + path, headers=caller.headers, json={})
                    passed = r.status_code not in (401, 403) and r.status_code < 500
                    if passed != allowed or (not allowed and r.status_code != 403):
                        wrong.append(
                            f"{kind:<8} {role.value:<21} {method} {base}{path}: {r.status_code} "
                            f"(expected {'through' if allowed else '403'}) {r.text[:120]}"
                        )
    assert writes
    assert not wrong, "\n".join(wrong)


def test_a_session_write_without_its_csrf_token_is_refused_on_every_write_route(
    system: System,
    routes: list[tuple[str, str, str]],
    callers: dict[tuple[str, Role], Caller],
):
    session = dict(callers["session", Role.admin].headers)
    del session["X-CSRF-Token"]
    wrong = []
    with httpx.Client(timeout=30) as client:
        for _, method, path in routes:
            if method.lower() not in WRITES:
                continue
            r = client.request(method, system.url + path, headers=session, json={})
            if r.status_code != 403 or "CSRF" not in r.text:
                wrong.append(f"{method} {path}: {r.status_code}")
    assert not wrong, "\n".join(wrong)


SCOPED_WRITER = {"projects": Role.project_office, "enterprises": Role.investment_promotion}
CREATES = {
    "/api/v1/projects": lambda where: {"name": "范围测试", "category": "road", **where},
    "/api/v1/enterprises": lambda where: {"uscc": make_uscc(990), "name": "范围测试", **where},
}
# Writes on no one sub-district's records: a whole ledger file (checked row by row in the
# services' own tests), a district statistic, the replay.
UNSCOPED = ("/api/v1/projects/import", "/api/v1/enterprises/import", "/api/v1/targets/")


@pytest.fixture(scope="module")
def scoped_objects(system: System) -> dict[str, dict[str, str]]:
    return {
        SCOPE: existing_objects(system, SCOPE, make_uscc(991)),
        ELSEWHERE: existing_objects(system, ELSEWHERE, make_uscc(992)),
    }


def scoped_write_routes(system: System) -> list[tuple[str, str, str]]:
    """(service, METHOD, template) of every write on one project's or enterprise's records."""
    found = []
    for service in SCOPED_WRITER:
        for template, item in system.openapi(service).get("paths", {}).items():
            if template.startswith(UNSCOPED):
                continue
            if "{" in template or template in CREATES:
                found += [(service, m.upper(), template) for m in item if m in WRITES]
    return found


def test_a_scoped_person_writes_only_records_of_their_sub_district_on_every_write_route(
    system: System, scoped_objects: dict[str, dict[str, str]]
):
    """Through the gateway with a session cookie, and straight to the service with the signed
    identity the gateway would pass: the service refuses by itself."""
    people: dict[tuple[str, str], Caller] = {}
    for service, role in SCOPED_WRITER.items():
        username = f"s-{service}"
        add_person(system, username, role, [SCOPE])
        people["session", service] = Caller(sign_in(system, username), to_services=False)
        identity = issue_identity(
            TEST_SECRET,
            username=username,
            display_name="街道",
            roles=[role],
            sub_districts=[SCOPE],
            ttl_seconds=3600,
        )
        people["identity", service] = Caller({"Authorization": f"Bearer {identity}"}, True)
    cases = [
        (service, method, template, where, allowed, kind)
        for service, method, template in scoped_write_routes(system)
        for where, allowed in ((SCOPE, True), (ELSEWHERE, False))
        for kind in ("session", "identity")
    ]
    wrong = []
    with httpx.Client(timeout=30) as client:
        for service, method, template, where, allowed, kind in cases:
            ids = scoped_objects[where]
            path = PARAM.sub(lambda m, ids=ids: ids.get(m.group(0)[1:-1], "1"), template)
            body = CREATES[template]({"sub_district": where}) if template in CREATES else {}
            base = system.url if kind == "session" else system.service_url(service)
            headers = people[kind, service].headers
            r = client.request(method, base + path, headers=headers, json=body)
            refused = r.status_code == 403 and SCOPE in r.text
            if allowed == refused or r.status_code in (401, 500):
                wrong.append(
                    f"{kind:<8} {method} {template} in {where}: {r.status_code} {r.text[:120]}"
                )
    checked = len(cases)
    assert checked >= 4 * 10, checked  # every project and enterprise write route, both ways
    assert not wrong, "\n".join(wrong)


def test_account_management_admits_only_admins_whatever_the_credential(
    system: System, callers: dict[tuple[str, Role], Caller]
):
    wrong = []
    with httpx.Client(timeout=30) as client:
        for method, path in ACCOUNT_ROUTES:
            for (kind, role), caller in callers.items():
                r = client.request(method, system.url + path, headers=caller.headers, json={})
                refused = r.status_code == 403
                if refused == (role is Role.admin) or r.status_code in (401, 500):
                    wrong.append(f"{kind:<8} {role.value:<21} {method} {path}: {r.status_code}")
    assert not wrong, "\n".join(wrong)
