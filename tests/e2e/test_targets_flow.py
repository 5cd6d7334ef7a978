"""Through the real services over real NATS: projects and designations move the plan's targets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from services.common.natsserver import NatsServer
from services.enterprises.uscc import ALPHABET, check_character
from tests.e2e.conftest import System, start_system

TODAY = "2025-06-30"


@pytest.fixture(scope="module")
def dated_system(
    tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer
) -> Iterator[System]:
    running = start_system(
        tmp_path_factory.mktemp("targets"),
        nats_server,
        PLANTRACK_TODAY=TODAY,
        PLANTRACK_EXPIRY_CHECK_SECONDS="0.5",
    )
    yield running
    running.sup.stop()


def uscc(n: int) -> str:
    body = "91370602" + "".join(ALPHABET[(n * 7 + i * 3) % 31] for i in range(9))
    return body + check_character(body)


def target(system: System, target_id: str, as_of: str | None = None) -> dict:
    params = {"as_of": as_of} if as_of else {}
    r = httpx.get(
        f"{system.url}/api/v1/targets/{target_id}",
        params=params,
        headers=system.headers("viewer"),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()


def eventually(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def post(system: System, role: str, path: str, body: dict) -> dict:
    r = httpx.post(f"{system.url}{path}", json=body, headers=system.headers(role), timeout=10)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_a_school_counts_from_the_day_it_is_built(dated_system: System) -> None:
    s = dated_system
    school = post(
        s, "project_office", "/api/v1/projects",
        {"name": "芝罘区端到端测试学校", "category": "school", "created_on": "2023-01-10",
         "planned_start": "2023-03-01", "planned_completion": "2024-08-31"},
    )  # fmt: skip
    for to, on in (("starting", "2023-03-01"), ("building", "2023-05-01"), ("built", "2024-09-01")):
        post(
            s,
            "project_office",
            f"/api/v1/projects/{school['id']}/transitions",
            {"to": to, "on": on},
        )

    def built() -> dict:
        now = target(s, "schools")
        assert now["current_value"] == 1, now
        return now

    now = eventually(built)
    assert [c["id"] for c in now["contributors"]] == [school["id"]]
    assert now["contributors"][0]["counted_on"] == "2024-09-01"
    assert target(s, "schools", "2024-08-31")["current_value"] == 0
    assert target(s, "schools", "2024-09-01")["current_value"] == 1


def test_revoked_and_expired_certificates_leave_the_stock_from_their_date(
    dated_system: System,
) -> None:
    s = dated_system
    kept, revoked, lapsed = (
        post(s, "investment_promotion", "/api/v1/enterprises",
             {"uscc": uscc(n), "name": f"烟台端到端科技{n}有限公司", "industry_section": "I"})
        for n in (1, 2, 3)
    )  # fmt: skip
    base = "/api/v1/enterprises/{}/designations"
    post(s, "investment_promotion", base.format(kept["id"]),
         {"type": "high_tech", "level": "national", "granted_on": "2023-02-01"})  # fmt: skip
    d = post(s, "investment_promotion", base.format(revoked["id"]),
             {"type": "high_tech", "level": "national", "granted_on": "2023-03-01"})  # fmt: skip
    post(s, "investment_promotion", f"{base.format(revoked['id'])}/{d['id']}/revoke",
         {"on": "2024-12-01", "reason": "复核不合格"})  # fmt: skip
    old = post(s, "investment_promotion", base.format(lapsed["id"]),
               {"type": "high_tech", "level": "national", "granted_on": "2021-06-01"})  # fmt: skip
    assert old["expires_on"] == "2024-06-01"  # three years, the type's default validity

    def settled() -> None:
        assert target(s, "high_tech_enterprises", "2023-06-01")["current_value"] == 3
        assert target(s, "high_tech_enterprises")["current_value"] == 1

    eventually(settled)
    assert target(s, "high_tech_enterprises", "2024-06-01")["current_value"] == 3
    assert target(s, "high_tech_enterprises", "2024-06-02")["current_value"] == 2
    assert target(s, "high_tech_enterprises", "2024-11-30")["current_value"] == 2
    assert target(s, "high_tech_enterprises", "2024-12-01")["current_value"] == 1
    now = target(s, "high_tech_enterprises")
    assert [c["id"] for c in now["contributors"]] == [kept["id"]]

    def expired_once() -> None:
        r = httpx.get(
            f"{s.url}{base.format(lapsed['id'])}", headers=s.headers("viewer"), timeout=10
        )
        assert [x["status"] for x in r.json()] == ["expired"]

    eventually(expired_once)


def test_as_of_before_an_event_excludes_it(dated_system: System) -> None:
    s = dated_system
    park = post(
        s, "project_office", "/api/v1/projects",
        {"name": "芝罘区端到端口袋公园", "category": "pocket_park", "created_on": "2024-01-05"},
    )  # fmt: skip
    post(s, "project_office", f"/api/v1/projects/{park['id']}/transitions",
         {"to": "built", "on": "2025-05-20"})  # fmt: skip
    eventually(lambda: _value_is(s, "pocket_parks", None, 1))
    assert target(s, "pocket_parks", "2025-05-19")["current_value"] == 0


def _value_is(s: System, target_id: str, as_of: str | None, value: float) -> None:
    assert target(s, target_id, as_of)["current_value"] == value
