"""The ledger import and export: upsert by USCC, all-or-nothing, rows named, round trip exact."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from services.common.settings import Settings
from services.common.spreadsheet import write_xlsx
from services.enterprises.ledger import COLUMNS
from services.enterprises.models import outbox
from tests.conftest import auth
from tests.integration.enterprises_kit import (
    Service,
    corrupt_check,
    enterprise,
    enterprises_service,
    make_uscc,
    published_events,
    wait_published,
)
from tests.integration.projects_kit import job_outcome

HEADER = ",".join(
    ["统一社会信用代码", "企业名称", "行业门类", "产业链", "企业规模"]
    + ["认定类型", "认定级别", "认定日期", "有效期至", "证书编号"]
)


@pytest.fixture
async def svc(
    settings_factory: Callable[..., Settings], database_url_factory: Callable[[str], str]
) -> AsyncIterator[Service]:
    async with enterprises_service(settings_factory, database_url_factory("enterprises")) as s:
        yield s


@pytest.fixture
def writer(tokens: dict[str, str]) -> dict[str, str]:
    return auth(tokens["investment_promotion"])


async def upload(svc: Service, writer: dict[str, str], content: bytes, name: str) -> Any:
    media = "text/csv" if name.endswith(".csv") else "application/octet-stream"
    return await svc.client.post(
        "/api/v1/enterprises/import", files={"file": (name, content, media)}, headers=writer
    )


def csv_file(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def outbox_types(svc: Service) -> Counter[str]:
    with svc.engine.connect() as conn:
        return Counter(conn.execute(select(outbox.c.type)).scalars())


async def test_import_upserts_by_uscc_and_grants_designations(
    svc: Service, writer: dict[str, str]
) -> None:
    existing = (
        await svc.client.post("/api/v1/enterprises", json=enterprise(1), headers=writer)
    ).json()
    content = csv_file(
        # The registered one gets a new name; its blank cells keep what is registered.
        f"{make_uscc(1).lower()},新名称有限公司,,,,high_tech,国家级,2024-12-01,,GR2024001",
        f"{make_uscc(2)},烟台新落地企业,C,智能制造,中型,专精特新中小企业,,2024-03-01,,",
        f"{make_uscc(2)},烟台新落地企业,,,,headquarters,district,2024-05-01,,",
        f"{make_uscc(3)},没有认定的企业,c,,micro,,,,,",
        # A registered enterprise may be named by its code alone.
        f"{make_uscc(1)},,,,,瞪羚企业,,2024-02-01,,",
    )
    r = await upload(svc, writer, content, "ledger.csv")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "dry_run": False,
        "errors": [],
        "rows": 5,
        "enterprises_created": 2,
        "enterprises_updated": 1,
        "enterprises_unchanged": 0,
        "designations_granted": 4,
        "designations_renewed": 0,
        "designations_revoked": 0,
        "designations_unchanged": 0,
        "designations_expired": 0,
        "rows_rejected": 0,
    }
    one = (await svc.client.get(f"/api/v1/enterprises/{existing['id']}", headers=writer)).json()
    assert one["name"] == "新名称有限公司" and one["version"] == 2
    assert one["industry_chain"] == "信息技术" and one["sub_district"] == "只楚街道"
    assert [d["type"] for d in one["designations"]] == ["gazelle", "high_tech"]
    assert one["designations"][1]["expires_on"].startswith("2027-12-")
    two = await svc.client.get(f"/api/v1/enterprises/by-uscc/{make_uscc(2)}", headers=writer)
    assert two.json()["size"] == "medium" and two.json()["industry_section"] == "C"
    assert [d["type"] for d in two.json()["designations"]] == ["specialised_sme", "headquarters"]
    assert two.json()["designations"][0]["level"] == "provincial"
    history = (
        await svc.client.get(f"/api/v1/enterprises/{existing['id']}/history", headers=writer)
    ).json()
    assert history["items"][1]["action"] == "import"
    assert history["items"][1]["changes"] == {"name": [existing["name"], "新名称有限公司"]}
    events = await published_events(svc)
    assert Counter(e.type for e in events) == {
        "EnterpriseRegistered": 3,
        "EnterpriseUpdated": 1,
        "DesignationGranted": 4,
    }
    granted = next(e for e in events if e.payload.get("designation", {}).get("type") == "high_tech")
    assert granted.payload["enterprise"]["version"] == 2


async def test_one_invalid_uscc_imports_nothing_and_names_the_row_and_reason(
    svc: Service, writer: dict[str, str]
) -> None:
    lines = [f"{make_uscc(n)},企业{n},,,,high_tech,,2024-01-01,," for n in range(1, 30)]
    lines[16] = f"{corrupt_check(make_uscc(17))},企业17,,,,high_tech,,2024-01-01,,"
    lines[20] = f"{make_uscc(21)[:10]}S{make_uscc(21)[11:]},企业21,,,,,,,,"
    r = await upload(svc, writer, csv_file(*lines), "ledger.csv")
    assert r.status_code == 422
    body = r.json()
    assert body["rejected_rows"] == [18, 22]
    assert body["errors"][0]["loc"] == ["rows", 18, "uscc"]
    assert "check character" in body["errors"][0]["msg"]
    assert "统一社会信用代码" in body["errors"][0]["msg"]
    assert "'S' at position 11" in body["errors"][1]["msg"]
    assert "Nothing was imported" in body["detail"]
    listed = (await svc.client.get("/api/v1/enterprises", headers=writer)).json()
    assert listed["total"] == 0 and outbox_types(svc) == Counter()


async def test_a_dry_run_counts_only_the_enterprises_it_would_write(
    svc: Service, writer: dict[str, str]
) -> None:
    """Of three new enterprises, two with a bad cell: one to create, two rows rejected (the
    counts add up to the file's rows), and nothing of the rejected ones counted as granted."""
    content = csv_file(
        f"{make_uscc(1)},好企业,C,,,high_tech,国家级,2024-12-01,,",
        f"{make_uscc(2)},坏行业企业,Ω,,,high_tech,国家级,2024-12-01,,",
        f"{make_uscc(3)},坏级别企业,C,,,high_tech,天下级,2024-12-01,,",
    )
    r = await svc.client.post(
        "/api/v1/enterprises/import",
        params={"dry_run": "true"},
        files={"file": ("a.csv", content, "text/csv")},
        headers=writer,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted({e["loc"][1] for e in body["errors"]}) == [3, 4]
    counts = [body[f"enterprises_{k}"] for k in ("created", "updated", "unchanged")]
    assert counts == [1, 0, 0] and body["rows_rejected"] == 2
    assert body["rows"] == 3 == sum(counts) + body["rows_rejected"]
    assert body["designations_granted"] == 1
    listed = await svc.client.get("/api/v1/enterprises", headers=writer)
    assert listed.json()["total"] == 0  # a dry run writes nothing


async def test_every_bad_cell_is_reported_with_its_row(
    svc: Service, writer: dict[str, str]
) -> None:
    content = csv_file(
        f"{make_uscc(1)},甲,X,,,,,,,",
        f"{make_uscc(2)},乙,,造船,,,,,,",
        f"{make_uscc(3)},丙,,,,high_tech,,,,",
        f"{make_uscc(4)},丁,,,,little_giant,区级,2024-01-01,,",
        f"{make_uscc(5)},戊,,,,high_tech,,2030-01-01,,",
        f"{make_uscc(6)},己,,,,,,2024-01-01,,",
        f"{make_uscc(7)},庚,,,,high_tech,,2024-01-01,2023-01-01,",
        f"{make_uscc(1)},另一个名字,,,,,,,,",
        f"{make_uscc(9)},,,,,,,,,",
    )
    r = await upload(svc, writer, content, "ledger.csv")
    assert r.status_code == 422
    found = {(e["loc"][1], e["loc"][2]) for e in r.json()["errors"]}
    assert found == {
        (2, "industry_section"),
        (3, "industry_chain"),
        (4, "granted_on"),
        (5, "designation_level"),
        (6, "granted_on"),
        (7, "designation_type"),
        (8, "expires_on"),
        (9, "name"),
        (10, "name"),
    }
    assert "row 2" in next(e["msg"] for e in r.json()["errors"] if e["loc"][1] == 9)


async def test_a_file_without_the_code_column_or_unreadable_is_refused(
    svc: Service, writer: dict[str, str]
) -> None:
    r = await upload(svc, writer, "企业名称\n甲\n".encode(), "ledger.csv")
    assert r.status_code == 422 and "统一社会信用代码" in r.json()["errors"][0]["msg"]
    r = await upload(svc, writer, b"PK\x03\x04 not really a workbook", "ledger.xlsx")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["file"]
    r = await upload(
        svc, writer, "统一社会信用代码\n".encode("gbk") + "中文".encode("gbk"), "a.csv"
    )
    assert r.status_code == 422


async def test_successive_certificates_become_renewals_and_true_overlaps_are_refused(
    svc: Service, writer: dict[str, str]
) -> None:
    code = make_uscc(1)
    content = csv_file(
        f"{code},甲,,,,high_tech,,2019-11-30,2022-12-15,GR2019",
        f"{code},甲,,,,high_tech,,2022-11-30,2025-12-15,GR2022",
        f"{code},甲,,,,high_tech,,2025-06-01,,GR2025",
    )
    r = await upload(svc, writer, content, "ledger.csv")
    assert r.status_code == 200, r.text
    assert r.json()["designations_granted"] == 1 and r.json()["designations_renewed"] == 2
    assert r.json()["designations_expired"] == 1
    held = (await svc.client.get(f"/api/v1/enterprises/by-uscc/{code}", headers=writer)).json()
    first, second, third = held["designations"]
    assert (second["renews_id"], third["renews_id"]) == (first["id"], second["id"])
    assert [d["status"] for d in held["designations"]] == ["expired", "active", "active"]
    clash = csv_file(f"{code},甲,,,,high_tech,,2023-06-01,2024-06-01,")
    r = await upload(svc, writer, clash, "ledger.csv")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 2, "granted_on"]
    assert f"designation {second['id']}" in r.json()["errors"][0]["msg"]
    renewed = await published_events(svc, "DesignationRenewed")
    assert [e.payload["designation"]["renews_id"] for e in renewed] == [first["id"], second["id"]]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_export_reads_back_as_an_import_that_changes_nothing(
    svc: Service, writer: dict[str, str], fmt: str
) -> None:
    a = (await svc.client.post("/api/v1/enterprises", json=enterprise(1), headers=writer)).json()
    await svc.client.post("/api/v1/enterprises", json=enterprise(2, size=None), headers=writer)
    url = f"/api/v1/enterprises/{a['id']}/designations"
    high_tech = {"type": "high_tech", "granted_on": "2023-11-30", "certificate_no": "GR1"}
    d = (await svc.client.post(url, json=high_tech, headers=writer)).json()
    await svc.client.post(
        f"{url}/{d['id']}/renew", json={"granted_on": "2025-06-01"}, headers=writer
    )
    gazelle = {"type": "gazelle", "granted_on": "2024-01-01"}
    g = (await svc.client.post(url, json=gazelle, headers=writer)).json()
    await svc.client.post(
        f"{url}/{g['id']}/revoke", json={"on": "2025-01-01", "reason": "迁出"}, headers=writer
    )
    r = await svc.client.get(f"/api/v1/enterprises/export?format={fmt}", headers=writer)
    assert r.status_code == 200
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:2] == ["统一社会信用代码", "企业名称"] and len(rows) == 5
        assert "高新技术企业" in rows[1] and "已撤销" in rows[2]
    await wait_published(svc.engine)
    before = outbox_types(svc)
    again = await upload(svc, writer, r.content, f"台账.{fmt}")
    assert again.status_code == 200, again.text
    assert again.json()["enterprises_unchanged"] == 2
    assert again.json()["designations_unchanged"] == 3
    assert again.json()["enterprises_created"] == again.json()["designations_granted"] == 0
    assert outbox_types(svc) == before


async def test_ten_thousand_enterprises_import_all_or_nothing(
    svc: Service, writer: dict[str, str]
) -> None:
    """One bad code among 10,000 rows imports nothing; corrected, all 10,000 are imported."""
    types = [("high_tech", "2023-11-30"), ("tech_sme", "2025-03-01"), ("gazelle", "2024-06-01")]
    rows = [
        {
            "uscc": make_uscc(n),
            "name": f"烟台批量企业{n}有限公司",
            "industry_section": "CIM"[n % 3],
            "industry_chain": "信息技术",
            "size": "small",
            "landed_on": "2023-04-01",
            "designation_type": types[n % 3][0],
            "granted_on": types[n % 3][1],
            "certificate_no": f"CERT{n}",
        }
        for n in range(10_000)
    ]
    rows[7_777]["uscc"] = corrupt_check(make_uscc(7_777))
    # A file this long runs on as a job; its result is the synchronous answer
    r = await upload(svc, writer, write_xlsx(COLUMNS, rows), "batch.xlsx")
    job = await job_outcome(svc.client, r, headers=writer)
    assert job["id"].startswith("e-")
    assert job["result_status"] == 422
    assert job["result"]["rejected_rows"] == [7_779]
    assert "check character" in job["result"]["errors"][0]["msg"]
    assert (await svc.client.get("/api/v1/enterprises", headers=writer)).json()["total"] == 0
    rows[7_777]["uscc"] = make_uscc(7_777)
    r = await upload(svc, writer, write_xlsx(COLUMNS, rows), "batch.xlsx")
    job = await job_outcome(svc.client, r, headers=writer)
    assert job["result_status"] == 200, job
    assert job["result"]["enterprises_created"] == job["result"]["designations_granted"] == 10_000
    listed = await svc.client.get("/api/v1/enterprises?designation=high_tech", headers=writer)
    assert listed.json()["total"] == 3_334
    assert outbox_types(svc) == {"EnterpriseRegistered": 10_000, "DesignationGranted": 10_000}
