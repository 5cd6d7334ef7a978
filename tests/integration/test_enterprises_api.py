"""The enterprise registry over HTTP: USCC checks, one enterprise per code, search, PATCH, roles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from services.common.settings import Settings
from tests.conftest import auth
from tests.integration.enterprises_kit import (
    PUBLISHED_CODES,
    Service,
    corrupt_check,
    enterprise,
    enterprises_service,
    make_uscc,
    published_events,
)

ENTERPRISE_SNAPSHOT_KEYS = {
    "id", "version", "uscc", "name", "industry_section", "industry_chain", "sub_district",
    "size", "landed_on", "source_channel",
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


async def test_the_published_valid_codes_are_accepted_and_normalised(
    svc: Service, writer: dict[str, str]
) -> None:
    for n, code in enumerate(PUBLISHED_CODES):
        typed = f"  {code[:6].lower()} {code[6:]} "
        r = await svc.client.post(
            "/api/v1/enterprises", json=enterprise(n, uscc=typed), headers=writer
        )
        assert r.status_code == 201, r.text
        assert r.json()["uscc"] == code
        assert r.headers["ETag"] == 'W/"1"'


async def test_a_wrong_check_character_is_refused_naming_the_rule(
    svc: Service, writer: dict[str, str]
) -> None:
    bad = corrupt_check(PUBLISHED_CODES[0])
    r = await svc.client.post("/api/v1/enterprises", json=enterprise(1, uscc=bad), headers=writer)
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "check character" in body["detail"] and "expected 'L'" in body["detail"]
    assert body["rule"] == "check_character"
    assert body["errors"][0]["loc"] == ["uscc"]


@pytest.mark.parametrize("letter", list("IOSVZ"))
async def test_a_forbidden_letter_is_refused_naming_it(
    svc: Service, writer: dict[str, str], letter: str
) -> None:
    code = PUBLISHED_CODES[2][:10] + letter + PUBLISHED_CODES[2][11:]
    r = await svc.client.post("/api/v1/enterprises", json=enterprise(1, uscc=code), headers=writer)
    assert r.status_code == 422
    assert r.json()["rule"] == "character"
    assert f"'{letter}' at position 11" in r.json()["detail"]


@pytest.mark.parametrize("code", [PUBLISHED_CODES[0][:-1], PUBLISHED_CODES[0] + "1", "9"])
async def test_a_wrong_length_is_refused_saying_how_long_it_is(
    svc: Service, writer: dict[str, str], code: str
) -> None:
    r = await svc.client.post("/api/v1/enterprises", json=enterprise(1, uscc=code), headers=writer)
    assert r.status_code == 422
    assert r.json()["rule"] == "length"
    assert f"found {len(code)}" in r.json()["detail"]


async def test_every_single_character_corruption_is_refused_over_http(
    svc: Service, writer: dict[str, str]
) -> None:
    """A sample of corruptions of one code at each position: never accepted, never a 500."""
    code = make_uscc(7)
    for position in range(18):
        replacement = "A" if code[position] != "A" else "B"
        bad = code[:position] + replacement + code[position + 1 :]
        r = await svc.client.post(
            "/api/v1/enterprises", json=enterprise(7, uscc=bad), headers=writer
        )
        assert r.status_code == 422, (position, r.text)
    r = await svc.client.get("/api/v1/enterprises", headers=writer)
    assert r.json()["total"] == 0


async def test_a_known_uscc_is_a_conflict_naming_the_existing_id(
    svc: Service, writer: dict[str, str]
) -> None:
    first = await svc.client.post("/api/v1/enterprises", json=enterprise(1), headers=writer)
    again = enterprise(1, name="另一个名字", uscc=make_uscc(1).lower())
    r = await svc.client.post("/api/v1/enterprises", json=again, headers=writer)
    assert r.status_code == 409
    assert r.json()["id"] == first.json()["id"]
    assert str(first.json()["id"]) in r.json()["detail"]


async def test_bad_fields_are_422_naming_the_field_and_nothing_is_written(
    svc: Service, writer: dict[str, str]
) -> None:
    cases = {
        "industry_section": {"industry_section": "Z"},
        "industry_chain": {"industry_chain": "造船"},
        "size": {"size": "huge"},
        "landed_on": {"landed_on": "2023-02-30"},
        "name": {"name": "  "},
    }
    for field, change in cases.items():
        r = await svc.client.post(
            "/api/v1/enterprises", json=enterprise(1, **change), headers=writer
        )
        assert r.status_code == 422, field
        assert field in [e["loc"][-1] for e in r.json()["errors"]], r.json()
    r = await svc.client.get("/api/v1/enterprises", headers=writer)
    assert r.json()["total"] == 0


async def test_lookup_by_uscc_normalises_and_says_why_it_fails(
    svc: Service, writer: dict[str, str]
) -> None:
    created = (
        await svc.client.post("/api/v1/enterprises", json=enterprise(3), headers=writer)
    ).json()
    r = await svc.client.get(f"/api/v1/enterprises/by-uscc/{make_uscc(3).lower()}", headers=writer)
    assert r.status_code == 200 and r.json()["id"] == created["id"]
    assert r.json()["designations"] == []
    r = await svc.client.get(f"/api/v1/enterprises/by-uscc/{make_uscc(4)}", headers=writer)
    assert r.status_code == 404 and make_uscc(4) in r.json()["detail"]
    r = await svc.client.get("/api/v1/enterprises/by-uscc/123", headers=writer)
    assert r.status_code == 422 and r.json()["rule"] == "length"
    r = await svc.client.get("/api/v1/enterprises/99999", headers=writer)
    assert r.status_code == 404


async def test_search_by_name_substring_uscc_prefix_and_fields(
    svc: Service, writer: dict[str, str]
) -> None:
    bodies = [
        enterprise(1, name="烟台海工装备有限公司", industry_section="C", industry_chain="海工装备"),
        enterprise(2, name="芝罘区软件园科技公司", sub_district="向阳街道"),
        enterprise(3, name="烟台生物医药集团", industry_chain="生物医药", uscc=PUBLISHED_CODES[1]),
    ]
    for body in bodies:
        assert (await svc.client.post("/api/v1/enterprises", json=body, headers=writer)).is_success

    async def names(query: str) -> list[str]:
        r = await svc.client.get(f"/api/v1/enterprises?{query}", headers=writer)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["items"])
        return [e["name"] for e in r.json()["items"]]

    assert await names("q=海工") == ["烟台海工装备有限公司"]
    assert await names("q=烟台") == ["烟台海工装备有限公司", "烟台生物医药集团"]
    assert await names("q=913710") == ["烟台生物医药集团"]
    assert await names("uscc=91370602") == ["烟台海工装备有限公司", "芝罘区软件园科技公司"]
    assert await names("industry_section=c") == ["烟台海工装备有限公司"]
    assert await names("sub_district=向阳街道") == ["芝罘区软件园科技公司"]
    assert await names("q=100%25") == []
    r = await svc.client.get("/api/v1/enterprises?limit=1&offset=1", headers=writer)
    assert r.json()["total"] == 3 and len(r.json()["items"]) == 1
    r = await svc.client.get("/api/v1/enterprises?limit=501", headers=writer)
    assert r.status_code == 422
    r = await svc.client.get("/api/v1/enterprises?designation=nonsense", headers=writer)
    assert r.status_code == 422 and "nonsense" in r.json()["detail"]


async def test_patch_needs_if_match_refuses_stale_and_records_history(
    svc: Service, writer: dict[str, str]
) -> None:
    created = (
        await svc.client.post("/api/v1/enterprises", json=enterprise(5), headers=writer)
    ).json()
    url = f"/api/v1/enterprises/{created['id']}"
    r = await svc.client.patch(url, json={"name": "新名称"}, headers=writer)
    assert r.status_code == 428 and "If-Match" in r.json()["detail"]
    r = await svc.client.patch(
        url, json={"name": "新名称", "size": "中型"}, headers={**writer, "If-Match": 'W/"1"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["ETag"] == 'W/"2"'
    assert r.json()["size"] == "medium"
    r = await svc.client.patch(url, json={"name": "再改"}, headers={**writer, "If-Match": 'W/"1"'})
    assert r.status_code == 412 and r.json()["current_version"] == 2
    r = await svc.client.patch(url, json={"name": None}, headers={**writer, "If-Match": 'W/"2"'})
    assert r.status_code == 422
    r = await svc.client.patch(
        url, json={"uscc": corrupt_check(make_uscc(5))}, headers={**writer, "If-Match": 'W/"2"'}
    )
    assert r.status_code == 422 and r.json()["rule"] == "check_character"
    history = (await svc.client.get(f"{url}/history", headers=writer)).json()
    assert [h["action"] for h in history["items"]] == ["create", "update"]
    change = history["items"][1]
    assert change["actor"] == "investment_promotion-tester"
    assert change["changes"] == {"name": [created["name"], "新名称"], "size": ["small", "medium"]}
    assert change["at"].endswith(("Z", "+00:00"))


async def test_two_concurrent_patches_with_the_same_etag_cannot_both_win(
    svc: Service, writer: dict[str, str]
) -> None:
    created = (
        await svc.client.post("/api/v1/enterprises", json=enterprise(6), headers=writer)
    ).json()
    url = f"/api/v1/enterprises/{created['id']}"
    headers = {**writer, "If-Match": 'W/"1"'}
    results = await asyncio.gather(
        *(svc.client.patch(url, json={"name": f"名称{i}"}, headers=headers) for i in range(4))
    )
    assert sorted(r.status_code for r in results) == [200, 412, 412, 412]
    final = (await svc.client.get(url, headers=writer)).json()
    assert final["version"] == 2
    assert final["name"] == next(r.json()["name"] for r in results if r.status_code == 200)


async def test_roles_only_investment_promotion_and_admin_write(
    svc: Service, tokens: dict[str, str]
) -> None:
    created = await svc.client.post(
        "/api/v1/enterprises", json=enterprise(1), headers=auth(tokens["admin"])
    )
    assert created.status_code == 201
    eid = created.json()["id"]
    designation = {"type": "gazelle", "granted_on": "2024-01-01"}
    writes = [
        ("POST", "/api/v1/enterprises", enterprise(2)),
        ("PATCH", f"/api/v1/enterprises/{eid}", {"name": "x"}),
        ("POST", f"/api/v1/enterprises/{eid}/designations", designation),
    ]
    for role in ("project_office", "viewer"):
        for method, url, body in writes:
            r = await svc.client.request(
                method, url, json=body, headers=auth(tokens[role], **{"If-Match": "*"})
            )
            assert r.status_code == 403, (role, method, url)
            assert role in r.json()["detail"]
        r = await svc.client.get(f"/api/v1/enterprises/{eid}", headers=auth(tokens[role]))
        assert r.status_code == 200
    r = await svc.client.post(
        "/api/v1/enterprises/import",
        files={"file": ("a.csv", b"x\n", "text/csv")},
        headers=auth(tokens["project_office"]),
    )
    assert r.status_code == 403
    reads = ["/api/v1/enterprises", f"/api/v1/enterprises/{eid}", "/api/v1/designations/expiring"]
    for url in reads:
        assert (await svc.client.get(url)).status_code == 401
        bad = await svc.client.get(url, headers=auth("not-a-token"))
        assert bad.status_code == 401
    assert (await svc.client.post("/api/v1/enterprises", json=enterprise(3))).status_code == 401
    r = await svc.client.get(f"/api/v1/enterprises/{eid}", headers=auth(tokens["admin"]))
    assert r.json()["version"] == 1, "no refused write changed anything"


async def test_registration_and_update_reach_nats_with_the_whole_snapshot(
    svc: Service, writer: dict[str, str]
) -> None:
    created = (
        await svc.client.post("/api/v1/enterprises", json=enterprise(8), headers=writer)
    ).json()
    await svc.client.patch(
        f"/api/v1/enterprises/{created['id']}",
        json={"sub_district": "向阳街道"},
        headers={**writer, "If-Match": 'W/"1"'},
    )
    # A PATCH that changes nothing bumps no version and emits nothing.
    r = await svc.client.patch(
        f"/api/v1/enterprises/{created['id']}",
        json={"sub_district": "向阳街道"},
        headers={**writer, "If-Match": 'W/"2"'},
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    events = await published_events(svc)
    assert [e.type for e in events] == ["EnterpriseRegistered", "EnterpriseUpdated"]
    registered, updated = events
    assert registered.producer == "enterprises" and registered.subject == str(created["id"])
    assert registered.on.isoformat() == "2023-05-20"
    assert set(registered.payload) == {"enterprise"}
    assert set(registered.payload["enterprise"]) == ENTERPRISE_SNAPSHOT_KEYS
    assert updated.payload["enterprise"]["version"] == 2
    assert updated.payload["enterprise"]["sub_district"] == "向阳街道"
    assert updated.on.isoformat() == svc.settings.today


async def test_the_source_channel_is_one_of_the_closed_list_by_code_or_label(
    svc: Service, writer: dict[str, str]
) -> None:
    made = await svc.client.post(
        "/api/v1/enterprises", json=enterprise(1, source_channel="大学生创业"), headers=writer
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["source_channel"], body["source_channel_label"]) == (
        "graduate_startup",
        "大学生创业",
    )
    by_code = await svc.client.post(
        "/api/v1/enterprises", json=enterprise(2, source_channel="returnee_startup"), headers=writer
    )
    assert by_code.json()["source_channel_label"] == "返乡创业"
    free_text = await svc.client.post(
        "/api/v1/enterprises", json=enterprise(3, source_channel="朋友介绍"), headers=writer
    )
    assert free_text.status_code == 422
    error = free_text.json()["errors"][0]
    assert error["loc"][-1] == "source_channel" and "招商引资" in error["msg"]
