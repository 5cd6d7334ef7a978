"""Designations over HTTP: grant with default validity, overlap refused, renew, revoke, expiring."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.common.settings import Settings
from tests.conftest import auth
from tests.integration.enterprises_kit import (
    Service,
    enterprise,
    enterprises_service,
    published_events,
)

DESIGNATION_SNAPSHOT_KEYS = {
    "id", "version", "enterprise_id", "type", "level", "granted_on", "expires_on", "revoked_on",
    "revoke_reason", "renews_id", "certificate_no", "status", "item_name",
}  # fmt: skip


@pytest.fixture
async def svc(
    settings_factory: Callable[..., Settings], database_url_factory: Callable[[str], str]
) -> AsyncIterator[Service]:
    async with enterprises_service(settings_factory, database_url_factory("enterprises")) as s:
        yield s


@pytest.fixture
def writer(tokens: dict[str, str]) -> dict[str, str]:
    return auth(tokens["investment_promotion"])


async def register(svc: Service, writer: dict[str, str], n: int = 1, **fields: Any) -> int:
    r = await svc.client.post("/api/v1/enterprises", json=enterprise(n, **fields), headers=writer)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def grant(svc: Service, writer: dict[str, str], eid: int, **body: Any) -> Any:
    return await svc.client.post(
        f"/api/v1/enterprises/{eid}/designations", json=body, headers=writer
    )


async def test_expiry_defaults_from_the_type_validity(svc: Service, writer: dict[str, str]) -> None:
    eid = await register(svc, writer)
    high_tech = await grant(svc, writer, eid, type="high_tech", granted_on="2023-11-30")
    assert high_tech.status_code == 201, high_tech.text
    assert high_tech.json()["level"] == "national"
    assert high_tech.json()["type_label"] == "高新技术企业"
    assert high_tech.json()["expires_on"].startswith("2026-11-")
    tech_sme = await grant(svc, writer, eid, type="tech_sme", granted_on="2025-04-01")
    assert tech_sme.json()["expires_on"] == "2025-12-31"
    hq = await grant(svc, writer, eid, type="headquarters", granted_on="2024-03-01")
    assert hq.json()["expires_on"] is None and hq.json()["level"] == "provincial"
    given = await grant(
        svc, writer, eid, type="gazelle", granted_on="2024-01-01", expires_on="2025-12-31"
    )
    assert given.json()["expires_on"] == "2025-12-31"
    assert high_tech.headers["ETag"] == 'W/"1"'
    shown = (await svc.client.get(f"/api/v1/enterprises/{eid}", headers=writer)).json()
    assert [d["type"] for d in shown["designations"]] == [
        "high_tech", "gazelle", "headquarters", "tech_sme"
    ]  # fmt: skip


async def test_bad_designations_are_422_naming_the_field(
    svc: Service, writer: dict[str, str]
) -> None:
    eid = await register(svc, writer)
    on = {"granted_on": "2024-01-01"}
    cases = [
        ({"type": "nonsense", **on}, "type"),
        ({"type": "little_giant", "level": "district", **on}, "level"),
        ({"type": "high_tech", **on, "expires_on": "2023-01-01"}, "expires_on"),
        ({"type": "high_tech", "granted_on": "2025-07-01"}, "granted_on"),
        ({"type": "high_tech"}, "granted_on"),
        ({"type": "high_tech", "granted_on": "yesterday"}, "granted_on"),
    ]
    for body, field in cases:
        r = await grant(svc, writer, eid, **body)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["loc"][-1] == field, r.json()
    r = await grant(svc, writer, 999, type="high_tech", granted_on="2024-01-01")
    assert r.status_code == 404
    shown = (await svc.client.get(f"/api/v1/enterprises/{eid}", headers=writer)).json()
    assert shown["designations"] == []


async def test_an_overlapping_designation_of_the_same_type_is_refused(
    svc: Service, writer: dict[str, str]
) -> None:
    eid = await register(svc, writer)
    first = (await grant(svc, writer, eid, type="high_tech", granted_on="2023-11-30")).json()
    r = await grant(svc, writer, eid, type="high_tech", granted_on="2024-06-01")
    assert r.status_code == 409
    assert r.json()["conflicting_id"] == first["id"]
    assert "High-tech enterprise (granted 2023-11-30)" in r.json()["detail"]
    assert "renews_id" not in r.json()["detail"] and "high_tech" not in r.json()["detail"]
    # …also at another level, and a span that starts earlier and runs into it.
    r = await grant(
        svc, writer, eid, type="high_tech", granted_on="2021-01-01", expires_on="2023-12-01"
    )
    assert r.status_code == 409
    # A span ending before it, and another type, are fine.
    r = await grant(
        svc, writer, eid, type="high_tech", granted_on="2020-01-01", expires_on="2023-11-29"
    )
    assert r.status_code == 201, r.text
    other_type = await grant(svc, writer, eid, type="gazelle", granted_on="2024-06-01")
    assert other_type.status_code == 201


async def test_item_types_are_held_once_per_named_item(
    svc: Service, writer: dict[str, str]
) -> None:
    """Labs, platforms, products, stores… are things: one firm may hold several, each named."""
    eid = await register(svc, writer)
    lab = {"type": "key_laboratory", "level": "provincial", "granted_on": "2024-03-01"}
    unnamed = await grant(svc, writer, eid, **lab)
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["loc"][-1] == "item_name"
    for name in ("海洋新材料实验室", "绿色低碳实验室", "智能装备实验室"):
        r = await grant(svc, writer, eid, **lab, item_name=name)
        assert r.status_code == 201, r.text
        assert r.json()["item_name"] == name
    again = await grant(svc, writer, eid, **lab, item_name="绿色低碳实验室")
    assert again.status_code == 409, "the same lab twice for the same days"
    firm_type = await grant(
        svc, writer, eid, type="high_tech", granted_on="2024-01-01", item_name="实验室"
    )
    assert firm_type.status_code == 422
    assert firm_type.json()["errors"][0]["loc"][-1] == "item_name"
    shown = (await svc.client.get(f"/api/v1/enterprises/{eid}", headers=writer)).json()
    assert sorted(d["item_name"] for d in shown["designations"]) == [
        "智能装备实验室", "海洋新材料实验室", "绿色低碳实验室"
    ]  # fmt: skip


async def test_the_item_name_message_names_the_column_and_type_in_words_not_codes(
    svc: Service, writer: dict[str, str]
) -> None:
    """The clerk reads 名称 and 重点实验室 (Name and Key laboratory in English); the field's
    code stays where a program reads it, in `loc`."""
    eid = await register(svc, writer)
    lab = {"type": "key_laboratory", "level": "provincial", "granted_on": "2024-03-01"}
    firm = {"type": "high_tech", "granted_on": "2024-01-01", "item_name": "实验室"}
    for body, zh_words, en_words in (
        (lab, ("重点实验室", "名称"), ("Key laboratory", "Name")),
        (firm, ("高新技术企业", "名称"), ("High-tech enterprise", "Name")),
    ):
        for language, words in (("zh", zh_words), ("en", en_words)):
            r = await svc.client.post(
                f"/api/v1/enterprises/{eid}/designations",
                json=body,
                headers={**writer, "Accept-Language": language},
            )
            assert r.status_code == 422, r.text
            [error] = r.json()["errors"]
            assert error["loc"][-1] == "item_name"
            for shown in (error["msg"], r.json()["detail"]):
                assert all(word in shown for word in words), shown
                assert "item_name" not in shown and body["type"] not in shown, shown


async def test_level_and_renewal_messages_name_types_and_levels_in_words_not_codes(
    svc: Service, writer: dict[str, str]
) -> None:
    """A level the type is not granted at, and a renewal of another type, read as the pages
    do (瞪羚企业, 区级; Gazelle enterprise, District); `loc` keeps the field's code."""
    eid = await register(svc, writer)
    held = (await grant(svc, writer, eid, type="gazelle", granted_on="2023-01-01")).json()
    cases = [
        (
            {"type": "gazelle", "level": "district", "granted_on": "2024-01-01"},
            "level",
            "瞪羚企业没有区级认定；认定级别可选：国家级、省级、市级",
            "Gazelle enterprise is not granted at District level; it is granted at: National, "
            "Provincial, Municipal",
        ),
        (
            {"type": "high_tech", "granted_on": "2024-01-01", "renews_id": held["id"]},
            "type",
            "续期须与原认定类型一致（瞪羚企业），不能是高新技术企业",
            "a renewal keeps the type of the designation it renews (Gazelle enterprise), not "
            "High-tech enterprise",
        ),
    ]
    for body, field, zh, en in cases:
        for language, words in (("zh", zh), ("en", en)):
            r = await svc.client.post(
                f"/api/v1/enterprises/{eid}/designations",
                json=body,
                headers={**writer, "Accept-Language": language},
            )
            assert r.status_code == 422, r.text
            [error] = r.json()["errors"]
            assert error["loc"][-1] == field
            assert error["msg"] == words
            for code in ("gazelle", "high_tech", "'district'", "renews_id"):
                assert code not in error["msg"] and code not in r.json()["detail"], r.text


async def test_a_grant_at_a_higher_level_is_an_upgrade_not_an_overlap(
    svc: Service, writer: dict[str, str]
) -> None:
    eid = await register(svc, writer)
    unit = {"type": "civilised_unit", "granted_on": "2023-03-01"}
    district = await grant(svc, writer, eid, **unit, level="district")
    assert district.status_code == 201, district.text
    municipal = await grant(
        svc, writer, eid, type="civilised_unit", level="municipal", granted_on="2024-05-01"
    )
    assert municipal.status_code == 201, municipal.text
    same = await grant(
        svc, writer, eid, type="civilised_unit", level="municipal", granted_on="2024-06-01"
    )
    assert same.status_code == 409 and same.json()["conflicting_id"] == municipal.json()["id"]
    lower = await grant(
        svc, writer, eid, type="civilised_unit", level="district", granted_on="2024-06-01"
    )
    assert lower.status_code == 409, "a lower level than one held is no upgrade"


async def test_renewal_continues_the_old_designation_once(
    svc: Service, writer: dict[str, str]
) -> None:
    eid = await register(svc, writer)
    old = (await grant(svc, writer, eid, type="specialised_sme", granted_on="2022-08-01")).json()
    renewed = await grant(
        svc, writer, eid, type="specialised_sme", granted_on="2025-06-01", renews_id=old["id"]
    )
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["renews_id"] == old["id"] and renewed.json()["level"] == "provincial"
    again = await grant(
        svc, writer, eid, type="specialised_sme", granted_on="2025-06-02", renews_id=old["id"]
    )
    assert again.status_code == 409 and again.json()["renewed_by"] == renewed.json()["id"]
    url = f"/api/v1/enterprises/{eid}/designations"
    shown = (await svc.client.get(f"{url}/{old['id']}", headers=writer)).json()
    assert shown["renewed_by"] == renewed.json()["id"] and shown["status"] == "active"
    # The dedicated route does the same, and a renewal keeps the type.
    nxt = await svc.client.post(
        f"{url}/{renewed.json()['id']}/renew",
        json={"granted_on": "2025-06-30", "level": "municipal", "certificate_no": "ZJTX-2"},
        headers=writer,
    )
    assert nxt.status_code == 201 and nxt.json()["renews_id"] == renewed.json()["id"]
    wrong = await grant(
        svc, writer, eid, type="high_tech", granted_on="2025-06-30", renews_id=nxt.json()["id"]
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["loc"] == ["type"]
    early = await svc.client.post(
        f"{url}/{nxt.json()['id']}/renew", json={"granted_on": "2020-01-01"}, headers=writer
    )
    assert early.status_code == 422 and early.json()["errors"][0]["loc"] == ["granted_on"]
    events = await published_events(svc, "DesignationRenewed")
    assert [e.payload["designation"]["renews_id"] for e in events] == [
        old["id"], renewed.json()["id"]
    ]  # fmt: skip
    assert events[0].on.isoformat() == "2025-06-01"


async def test_revoke_records_date_and_reason_once(svc: Service, writer: dict[str, str]) -> None:
    eid = await register(svc, writer)
    d = (await grant(svc, writer, eid, type="high_tech", granted_on="2023-11-30")).json()
    url = f"/api/v1/enterprises/{eid}/designations/{d['id']}/revoke"
    for too_early_or_future in ("2023-01-01", "2025-07-01"):
        r = await svc.client.post(url, json={"on": too_early_or_future}, headers=writer)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["on"]
    stale = await svc.client.post(
        url, json={"on": "2025-05-01"}, headers={**writer, "If-Match": 'W/"7"'}
    )
    assert stale.status_code == 412
    r = await svc.client.post(
        url, json={"on": "2025-05-01", "reason": "复核未通过"}, headers=writer
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["revoked_on"] == "2025-05-01"
    assert r.json()["version"] == 2
    again = await svc.client.post(url, json={"on": "2025-05-02"}, headers=writer)
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]
    renew = await grant(
        svc, writer, eid, type="high_tech", granted_on="2025-06-01", renews_id=d["id"]
    )
    assert renew.status_code == 409
    # Revoked from 2025-05-01, a new grant from that day does not overlap.
    assert (await grant(svc, writer, eid, type="high_tech", granted_on="2025-05-01")).is_success
    revoked = await published_events(svc, "DesignationRevoked")
    assert len(revoked) == 1 and revoked[0].on.isoformat() == "2025-05-01"
    assert revoked[0].payload["designation"]["revoke_reason"] == "复核未通过"
    history = (await svc.client.get(f"/api/v1/enterprises/{eid}/history", headers=writer)).json()
    assert history["items"][-2]["changes"]["status"] == ["active", "revoked"]


async def test_a_certificate_recorded_after_it_lapsed_is_expired_at_once(
    svc: Service, writer: dict[str, str]
) -> None:
    eid = await register(svc, writer)
    r = await grant(svc, writer, eid, type="high_tech", granted_on="2019-11-30")
    assert r.status_code == 201 and r.json()["status"] == "expired" and r.json()["version"] == 2
    events = await published_events(svc)
    assert [e.type for e in events] == [
        "EnterpriseRegistered", "DesignationGranted", "DesignationExpired"
    ]  # fmt: skip
    granted, expired = events[1:]
    assert granted.payload["designation"]["status"] == "active"
    assert expired.payload["designation"]["status"] == "expired"
    assert expired.on.isoformat() == r.json()["expires_on"]
    for event in (granted, expired):
        assert set(event.payload) == {"enterprise", "designation"}
        assert set(event.payload["designation"]) == DESIGNATION_SNAPSHOT_KEYS
        assert event.payload["enterprise"]["uscc"] == enterprise(1)["uscc"]


async def test_expiring_lists_what_lapses_soon_and_is_not_renewed(
    svc: Service, writer: dict[str, str]
) -> None:
    eid = await register(svc, writer)
    other = await register(svc, writer, 2, name="第二家企业")

    async def add(e: int, type_: str, granted: str, expires: str | None = None) -> int:
        r = await grant(svc, writer, e, type=type_, granted_on=granted, expires_on=expires)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    soon = await add(eid, "high_tech", "2022-08-15", "2025-08-14")  # 45 days left
    later = await add(other, "high_tech", "2022-12-01", "2025-11-30")  # 153 days
    renewed = await add(eid, "single_champion", "2022-07-01", "2025-07-10")
    await svc.client.post(
        f"/api/v1/enterprises/{eid}/designations/{renewed}/renew",
        json={"granted_on": "2025-06-20"},
        headers=writer,
    )
    revoked = await add(other, "gazelle", "2024-01-01", "2025-07-01")
    await svc.client.post(
        f"/api/v1/enterprises/{other}/designations/{revoked}/revoke",
        json={"on": "2025-06-01"},
        headers=writer,
    )
    await add(eid, "headquarters", "2024-01-01")  # never lapses
    r = await svc.client.get("/api/v1/designations/expiring?within_days=90", headers=writer)
    assert r.status_code == 200
    assert [(i["id"], i["days_left"]) for i in r.json()["items"]] == [(soon, 45)]
    assert r.json()["items"][0]["enterprise_name"] == enterprise(1)["name"]
    r = await svc.client.get("/api/v1/designations/expiring?within_days=200", headers=writer)
    assert [i["id"] for i in r.json()["items"]] == [soon, later] and r.json()["total"] == 2
    r = await svc.client.get("/api/v1/designations/expiring", headers=auth("x"))
    assert r.status_code == 401
    r = await svc.client.get("/api/v1/designations/expiring?within_days=-1", headers=writer)
    assert r.status_code == 422


async def test_list_by_designation_counts_holders_on_a_date(
    svc: Service, writer: dict[str, str]
) -> None:
    a = await register(svc, writer, 1)
    b = await register(svc, writer, 2)
    await register(svc, writer, 3)
    await grant(svc, writer, a, type="high_tech", granted_on="2023-01-10")
    await grant(svc, writer, b, type="high_tech", granted_on="2024-09-01")
    await grant(svc, writer, b, type="little_giant", granted_on="2024-09-01")

    async def ids(query: str) -> list[int]:
        r = await svc.client.get(f"/api/v1/enterprises?{query}", headers=writer)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["items"]]

    assert await ids("designation=high_tech") == [a, b]
    assert await ids("designation=high_tech&on=2024-01-01") == [a]
    assert await ids("designation=high_tech&on=2026-05-01") == [b]
    assert await ids("designation=little_giant&level=national") == [b]
    assert await ids("designation=high_tech&designation=little_giant&on=2024-01-01") == [a]
    counts = (await svc.client.get("/api/v1/designations/by-type", headers=writer)).json()
    by_type = {c["type"]: c["count"] for c in counts["items"]}
    assert by_type["high_tech"] == 2 and by_type["little_giant"] == 1 and by_type["unicorn"] == 0


async def test_the_catalogue_lists_every_type_with_its_label_and_validity(
    svc: Service, writer: dict[str, str]
) -> None:
    r = await svc.client.get("/api/v1/enterprises/catalogue", headers=writer)
    assert r.status_code == 200
    types = {t["key"]: t for t in r.json()["designation_types"]}
    assert types["high_tech"]["label"] == "高新技术企业" and types["high_tech"]["validity"] == 3
    assert types["tech_sme"]["validity"] == "calendar_year" and types["unicorn"]["validity"] is None
    clauses = {c for t in types.values() for c in t["clauses"]}
    assert {
        "3",
        "4",
        "7",
        "15",
        "17",
        "19",
        "27",
        "29",
        "30",
        "35",
        "39",
        "55",
        "56",
        "66",
    } <= clauses
    assert (
        r.json()["industry_sections"]["C"] == "制造业" and "信息技术" in r.json()["industry_chains"]
    )
