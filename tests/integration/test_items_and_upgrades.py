"""Items and upgrades through the real services: the enterprises service records them, its
relay publishes them over NATS, the events service rolls them up into the plan's targets."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from services.common.spreadsheet import write_xlsx
from services.enterprises.app import create_app as enterprises_app
from services.enterprises.ledger import COLUMNS
from services.events.app import create_app as events_app
from tests.conftest import auth, running_app
from tests.integration.enterprises_kit import TODAY, enterprise


@pytest.fixture
async def services(settings_factory: Callable[..., Any], database_url_factory):
    """Both services on one set of streams, the business date pinned."""
    settings = settings_factory(
        enterprises_database_url=database_url_factory("enterprises"),
        events_database_url=database_url_factory("events"),
        today=TODAY,
    )
    registry, rollup = enterprises_app(settings), events_app(settings)
    async with running_app(registry) as writer_client, running_app(rollup) as reader_client:
        for app in (registry, rollup):
            await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        yield writer_client, reader_client


async def settled(client, token: str, target_id: str, value: int, timeout: float = 30) -> dict:
    """The target once it shows `value` (the roll-up is asynchronous), else fail saying so."""
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"/api/v1/targets/{target_id}", headers=auth(token))
        assert r.status_code == 200, r.text
        if r.json()["current_value"] == value or time.monotonic() > deadline:
            return r.json()
        await asyncio.sleep(0.1)


async def test_three_labs_count_three_and_an_upgrade_counts_once_at_its_level(services, tokens):
    registry, rollup = services
    writer = auth(tokens["investment_promotion"])

    async def register(n: int) -> int:
        r = await registry.post("/api/v1/enterprises", json=enterprise(n), headers=writer)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def grant(eid: int, **body: Any) -> dict:
        r = await registry.post(
            f"/api/v1/enterprises/{eid}/designations", json=body, headers=writer
        )
        assert r.status_code == 201, r.text
        return r.json()

    university = await register(1)
    for name in ("海洋新材料实验室", "绿色低碳实验室", "智能装备实验室"):
        await grant(
            university, type="key_laboratory", level="provincial", granted_on="2024-03-01",
            item_name=name,
        )  # fmt: skip
    # Raised by renewing at the higher level, and by a new grant at it: once each.
    renewed, regranted = await register(2), await register(3)
    for eid in (renewed, regranted):
        await grant(eid, type="civilised_unit", level="district", granted_on="2023-03-01")
    first = await grant(renewed, type="civilised_unit", level="district", granted_on="2022-03-01",
                        expires_on="2023-02-28")  # fmt: skip
    upgrade = await registry.post(
        f"/api/v1/enterprises/{renewed}/designations/{first['id']}/renew",
        json={"granted_on": "2024-05-01", "level": "municipal"},
        headers=writer,
    )
    assert upgrade.status_code == 201, upgrade.text
    await grant(regranted, type="civilised_unit", level="municipal", granted_on="2024-06-01")
    # A municipal unit renewed at the same level adds nothing.
    kept = await register(4)
    held = await grant(kept, type="civilised_unit", level="municipal", granted_on="2021-05-01")
    same = await registry.post(
        f"/api/v1/enterprises/{kept}/designations/{held['id']}/renew",
        json={"granted_on": "2024-05-01"},
        headers=writer,
    )
    assert same.status_code == 201, same.text

    viewer = tokens["viewer"]
    labs = await settled(rollup, viewer, "laboratories", 3)
    assert labs["current_value"] == 3
    assert [c["id"] for c in labs["contributors"]] == [university]
    names = sorted(d["item_name"] for d in labs["contributors"][0]["designations"])
    assert names == ["智能装备实验室", "海洋新材料实验室", "绿色低碳实验室"]
    units = await settled(rollup, viewer, "civilised_units", 2)
    assert units["current_value"] == 2
    assert sorted(c["id"] for c in units["contributors"]) == sorted([renewed, regranted])


async def test_two_labs_of_one_firm_import_as_two_and_an_unchanged_export_changes_nothing(
    services, tokens
):
    registry, rollup = services
    writer = auth(tokens["investment_promotion"])
    code = enterprise(1)["uscc"]
    labs = ("海洋新材料实验室", "绿色低碳实验室")
    rows = [
        {"uscc": code, "name": "烟台某大学", "designation_type": "key_laboratory",
         "item_name": name, "designation_level": "provincial", "granted_on": date(2024, 3, 1)}
        for name in labs
    ]  # fmt: skip

    async def upload(content: bytes, name: str = "企业库.xlsx") -> Any:
        return await registry.post(
            "/api/v1/enterprises/import",
            files={"file": (name, content, "application/octet-stream")},
            headers=writer,
        )

    # A lab without its 名称 is refused, naming the column; the others take none.
    nameless = [{**rows[0], "item_name": None}, {**rows[0], "designation_type": "high_tech"}]
    r = await upload(write_xlsx(COLUMNS, nameless))
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [
        ["rows", 2, "item_name"],
        ["rows", 3, "item_name"],
    ]
    assert "名称" in r.json()["errors"][0]["msg"]

    r = await upload(write_xlsx(COLUMNS, rows))
    assert r.status_code == 200, r.text
    assert (r.json()["enterprises_created"], r.json()["designations_granted"]) == (1, 2)
    held = (await registry.get(f"/api/v1/enterprises/by-uscc/{code}", headers=writer)).json()
    assert sorted(d["item_name"] for d in held["designations"]) == sorted(labs)
    counted = await settled(rollup, tokens["viewer"], "laboratories", 2)
    assert counted["current_value"] == 2
    names = sorted(d["item_name"] for d in counted["contributors"][0]["designations"])
    assert names == sorted(labs)

    for fmt in ("xlsx", "csv"):
        export = await registry.get(f"/api/v1/enterprises/export?format={fmt}", headers=writer)
        assert export.status_code == 200
        if fmt == "csv":
            table = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
            column = table[0].index("名称")
            assert sorted(row[column] for row in table[1:]) == sorted(labs)
        again = await upload(export.content, f"企业库.{fmt}")
        assert again.status_code == 200, again.text
        assert again.json()["enterprises_unchanged"] == 1
        assert again.json()["designations_unchanged"] == 2
        assert again.json()["designations_granted"] == again.json()["enterprises_updated"] == 0
    held_after = (await registry.get(f"/api/v1/enterprises/by-uscc/{code}", headers=writer)).json()
    assert held_after["designations"] == held["designations"]
