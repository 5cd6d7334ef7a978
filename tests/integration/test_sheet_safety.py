"""Adversarial spreadsheets are refused with 413 naming the limit, and the service stays up."""

from __future__ import annotations

from typing import Any

from services.common.spreadsheet import write_xlsx
from services.projects.ledger import COLUMNS
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client
from tests.sheet_files import far_cell_xlsx, xml_bomb_xlsx

client = kit.client
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(client: Any, content: bytes, name: str = "台账.xlsx") -> Any:
    return await client.post("/api/v1/projects/import", files={"file": (name, content, XLSX)})


async def test_adversarial_workbooks_are_refused_and_the_service_stays_up(client: Client) -> None:
    for content, limit in (
        (far_cell_xlsx(), "sheet_max_rows"),
        (xml_bomb_xlsx(320), "sheet_max_uncompressed_mb"),
    ):
        r = await upload(client, content)
        assert r.status_code == 413, r.text
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["limit"] == limit and f"PLANTRACK_{limit.upper()}" in body["detail"]
        assert body["errors"][0]["loc"] == ["file"]
    assert (await client.get("/healthz")).status_code == 200
    good = write_xlsx(COLUMNS, [{"name": "芝罘区某小学", "category": "school"}])
    r = await upload(client, good)
    assert r.status_code == 201, r.text
    assert (await client.get("/api/v1/projects")).json()["total"] == 1
