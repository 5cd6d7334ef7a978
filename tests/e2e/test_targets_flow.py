"""Through the real services over real NATS: projects and designations move the plan's targets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import nats
import nats.js.errors
import orjson
import pytest

from services.common.contracts.events import EVENT_TYPES
from services.common.natsserver import NatsServer
from services.enterprises.uscc import ALPHABET, check_character
from services.events.targets import load_catalogue
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


def patch(system: System, role: str, path: str, body: dict) -> dict:
    headers = {**system.headers(role), "If-Match": "*"}
    r = httpx.patch(f"{system.url}{path}", json=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _write_one_of_every_event(system: System) -> None:
    """Drive the API so each service emits each of its event types at least once."""
    office, invest = "project_office", "investment_promotion"
    school = {"name": "契约测试学校", "category": "school", "created_on": "2025-01-02"}
    at = f"/api/v1/projects/{post(system, office, '/api/v1/projects', school)['id']}"
    patch(system, office, at, {"lead_department": "区教体局"})
    post(system, office, f"{at}/transitions", {"to": "starting", "on": "2025-03-01"})
    start = {"kind": "start", "title": "开工", "due_on": "2025-03-01"}
    milestone = post(system, office, f"{at}/milestones", start)["id"]
    patch(system, office, f"{at}/milestones/{milestone}", {"done_on": "2025-03-01"})
    post(system, office, f"{at}/investment", {"month": "2025-03", "amount_wan": 100})
    land = {"kind": "land", "description": "用地指标未落实", "due_on": "2025-07-31"}
    blocker = f"{at}/blockers/{post(system, office, f'{at}/blockers', land)['id']}"
    patch(system, office, blocker, {"due_on": "2025-08-31"})
    patch(system, office, blocker, {"resolved_on": TODAY, "resolution": "已落实"})

    firm = {"uscc": uscc(9), "name": "契约科技有限公司", "landed_on": "2024-01-01"}
    at = f"/api/v1/enterprises/{post(system, invest, '/api/v1/enterprises', firm)['id']}"
    patch(system, invest, at, {"size": "small"})
    # Granted in 2022 for three years: lapsed before today, so it expires at once.
    lapsed = {"type": "high_tech", "level": "national", "granted_on": "2022-01-01"}
    post(system, invest, f"{at}/designations", lapsed)
    sme = {"type": "specialised_sme", "granted_on": "2022-08-01"}
    old = post(system, invest, f"{at}/designations", sme)["id"]
    renewal = {"granted_on": "2025-06-01"}
    new = post(system, invest, f"{at}/designations/{old}/renew", renewal)["id"]
    revoke = {"on": "2025-06-20", "reason": "复核未通过"}
    post(system, invest, f"{at}/designations/{new}/revoke", revoke)

    reported = next(t for t in load_catalogue() if t.source == "reported")
    report = {"value": 1, "period": "2025-05"}
    post(system, "admin", f"/api/v1/targets/{reported.id}/reports", report)


async def _published(system: System) -> list[tuple[str, str, dict]]:
    """(stream, subject, envelope) of every message on the system's two streams."""
    env = system.sup.extra_env
    streams = {"domain": env["PLANTRACK_STREAM"], "live": env["PLANTRACK_LIVE_STREAM"]}
    nc = await nats.connect(system.nats_url)
    try:
        js = nc.jetstream()
        out = []
        for kind, name in streams.items():
            last = (await js.stream_info(name)).state.last_seq
            for seq in range(1, last + 1):
                try:
                    msg = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:  # dropped by the stream's limits
                    continue
                out.append((kind, msg.subject, orjson.loads(msg.data)))
        return out
    finally:
        await nc.close()


def test_every_event_the_services_emit_parses_as_its_contract(dated_system: System) -> None:
    """Producer → consumer round trip: each event on the streams parses as its payload class,
    from its producer, on its stream and subject; every class of the contract is seen."""
    _write_one_of_every_event(dated_system)
    prefix = dated_system.sup.extra_env["PLANTRACK_SUBJECT_PREFIX"]

    def all_seen() -> list[tuple[str, str, dict]]:
        published = asyncio.run(_published(dated_system))
        assert {body["type"] for _, _, body in published} >= set(EVENT_TYPES)
        return published

    for stream, subject, body in eventually(all_seen):
        kind = EVENT_TYPES[body["type"]]
        kind.parse(body["payload"])
        assert (stream, body["producer"]) == (kind.STREAM, kind.PRODUCER), body
        if stream == "domain":
            assert subject == f"{prefix}.domain.{kind.PRODUCER}.{kind.TYPE}"
