"""The registry's pure rules: validity spans, overlap, events' shape, and reading a ledger sheet."""

from __future__ import annotations

from datetime import date

import pytest

from services.common.errors import Invalid
from services.common.outbox import outbox_rows
from services.common.settings import Settings
from services.common.spreadsheet import ImportRejected
from services.enterprises.designations import check_validity, expiry_for, last_day, overlaps
from services.enterprises.events import (
    DesignationExpired,
    DesignationRenewed,
    EnterpriseRegistered,
    designation_event,
    enterprise_event,
)
from services.enterprises.importer import Known, Plan, _plan_designations
from services.enterprises.ledger import PlannedDesignation, PlannedEnterprise, read_plan
from services.enterprises.uscc import check_character

D = date.fromisoformat
SETTINGS = Settings(env="test", secret="x" * 40)
TODAY = D("2025-06-30")


def code(n: int) -> str:
    body = f"91370602{n:09d}"
    return body + check_character(body)


ENTERPRISE = {
    "id": 7, "version": 2, "uscc": code(7), "name": "烟台某某科技有限公司", "industry_section": "I",
    "industry_chain": "信息技术", "sub_district": "只楚街道", "size": "small",
    "landed_on": D("2023-05-20"), "source_channel": "招商引资",
}  # fmt: skip
DESIGNATION = {
    "id": 31, "version": 1, "enterprise_id": 7, "type": "high_tech", "level": "national",
    "granted_on": D("2023-11-30"), "expires_on": D("2026-11-29"), "revoked_on": None,
    "revoke_reason": None, "renews_id": None, "certificate_no": "GR202337000123",
    "status": "active", "item_name": None,
}  # fmt: skip


def test_a_designation_holds_through_expiry_and_until_the_day_before_revocation() -> None:
    assert last_day({"expires_on": D("2026-11-29"), "revoked_on": None}) == D("2026-11-29")
    assert last_day({"expires_on": D("2026-11-29"), "revoked_on": D("2025-01-01")}) == D(
        "2024-12-31"
    )
    assert last_day({"expires_on": None, "revoked_on": None}) is None


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        (("2023-01-01", "2025-12-31"), ("2025-12-31", None), True),
        (("2023-01-01", "2025-12-30"), ("2025-12-31", None), False),
        (("2023-01-01", None), ("2030-01-01", "2031-01-01"), True),
        (("2024-01-01", "2023-12-31"), ("2020-01-01", None), False),  # revoked on its grant day
    ],
)
def test_spans_overlap_when_they_share_a_day(
    a: tuple[str, str | None], b: tuple[str, str | None], shared: bool
) -> None:
    def span(s: tuple[str, str | None]) -> tuple[date, date | None]:
        return D(s[0]), D(s[1]) if s[1] else None

    assert overlaps(*span(a), *span(b)) is shared
    assert overlaps(*span(b), *span(a)) is shared


def test_validity_can_be_configured_per_type() -> None:
    settings = Settings(env="test", validity_years_override={"high_tech": 2, "gazelle": 1})
    assert expiry_for("high_tech", D("2023-05-10"), None, settings) == D("2025-05-10")
    assert expiry_for("gazelle", D("2023-05-10"), None, settings) == D("2024-05-10")
    assert expiry_for("gazelle", D("2023-05-10"), None, SETTINGS) is None
    assert expiry_for("high_tech", D("2023-05-10"), D("2024-01-01"), settings) == D("2024-01-01")


def test_a_grant_may_not_be_dated_in_the_future_nor_end_before_it_starts() -> None:
    with pytest.raises(Invalid) as future:
        check_validity(D("2025-07-01"), None, today=TODAY)
    assert future.value.errors[0]["loc"] == ["granted_on"]
    with pytest.raises(Invalid) as backwards:
        check_validity(D("2025-01-01"), D("2024-12-31"), today=TODAY, loc=("rows", 3))
    assert backwards.value.errors[0]["loc"] == ["rows", 3, "expires_on"]
    check_validity(TODAY, TODAY, today=TODAY)


def test_designation_events_carry_both_snapshots_as_the_contract_shows() -> None:
    envelope = designation_event(DesignationExpired, ENTERPRISE, DESIGNATION, D("2026-11-29"))
    assert envelope.type == "DesignationExpired" and envelope.producer == "enterprises"
    assert envelope.subject == "7" and envelope.subject_suffix == "enterprises.DesignationExpired"
    payload = envelope.model_dump(mode="json")["payload"]
    assert payload["enterprise"] == {**ENTERPRISE, "landed_on": "2023-05-20"}
    assert payload["designation"]["granted_on"] == "2023-11-30"
    assert list(payload["designation"]) == list(DESIGNATION)
    renewal = {**DESIGNATION, "renews_id": 30}
    renewed = designation_event(DesignationRenewed, ENTERPRISE, renewal, D("2023-11-30"))
    assert renewed.payload["designation"]["renews_id"] == 30


def test_outbox_rows_hold_the_serialised_envelope() -> None:
    rows = outbox_rows([enterprise_event(EnterpriseRegistered, ENTERPRISE, D("2023-05-20"))])
    assert rows[0]["type"] == "EnterpriseRegistered"
    assert rows[0]["subject"] == "enterprises.EnterpriseRegistered"
    assert b'"on":"2023-05-20"' in rows[0]["data"]


HEADER = "统一社会信用代码,企业名称,行业门类,企业规模,认定类型,认定级别,认定日期,有效期至,撤销日期"


def sheet(*lines: str) -> bytes:
    return "\n".join([HEADER, *lines]).encode()


def test_rows_of_one_code_are_one_enterprise_with_its_designations() -> None:
    plan, parsed = read_plan(
        sheet(
            f"{code(1)},甲公司,制造业,小型,高新技术企业,国家级,2023-11-30,,",
            f" {code(1).lower()} ,,,,gazelle,,2024-01-01,,2025-01-01",
        ),
        "a.csv",
        settings=SETTINGS,
        today=TODAY,
    )
    assert parsed.errors == [] and len(parsed.rows) == 2 and list(plan) == [code(1)]
    one = plan[code(1)]
    assert one.values["industry_section"] == "C" and one.values["size"] == "small"
    assert [(d.type, d.level) for d in one.designations] == [
        ("high_tech", "national"), ("gazelle", "provincial")
    ]  # fmt: skip
    assert one.designations[1].revoked_on == D("2025-01-01")
    assert one.designations[0].given == {
        "designation_type", "designation_level", "granted_on"
    }  # fmt: skip


def test_a_sheet_with_errors_names_every_row_and_reason() -> None:
    with pytest.raises(ImportRejected) as rejected:
        _, parsed = read_plan(
            sheet(
                f"{code(1)[:-1]},甲,,,,,,,",
                f"{code(2)},乙,,,,,2024-01-01,,",
                f"{code(3)},丙,,,高新技术企业,,2024-01-01,,2023-01-01",
                f"{code(4)},丁,,,,,,,",
                f"{code(4)},另一个名字,,,,,,,",
            ),
            "a.csv",
            settings=SETTINGS,
            today=TODAY,
        )
        parsed.raise_if_errors()
    errors = {(e["loc"][1], e["loc"][2]): e["msg"] for e in rejected.value.errors}
    assert "18 characters" in errors[(2, "uscc")]
    assert "认定类型 is required" in errors[(3, "designation_type")]
    assert "before the designation was granted" in errors[(4, "revoked_on")]
    assert "row 5" in errors[(6, "name")]
    assert rejected.value.extra["rejected_rows"] == [2, 3, 4, 6]


def planned(row: int, granted: str, expires: str | None) -> PlannedDesignation:
    return PlannedDesignation(
        row, "high_tech", "national", D(granted), D(expires) if expires else None, None, None, None
    )


def test_successive_certificates_chain_as_renewals_and_a_stray_overlap_is_refused() -> None:
    from services.common.spreadsheet import Sheet

    enterprise = PlannedEnterprise(row=2, values={"uscc": code(1)})
    enterprise.designations = [
        planned(4, "2025-01-01", "2027-12-31"),
        planned(2, "2019-01-01", "2022-02-01"),
        planned(3, "2022-01-01", "2025-02-01"),
    ]
    errors, plan = Sheet(), Plan()
    _plan_designations(errors, plan, code(1), enterprise, [])
    assert errors.errors == []
    chain = [k for _, k in plan.granted]
    assert [k.row for k in chain] == [2, 3, 4]
    assert chain[1].renews is chain[0] and chain[2].renews is chain[1]
    stray = PlannedEnterprise(row=5, values={"uscc": code(1)})
    stray.designations = [planned(5, "2023-06-01", "2024-06-01")]
    _plan_designations(errors, Plan(), code(1), stray, [*chain])
    assert [e["loc"] for e in errors.errors] == [["rows", 5, "granted_on"]]
    assert "row 3" in errors.errors[0]["msg"]
    assert isinstance(chain[0], Known)
