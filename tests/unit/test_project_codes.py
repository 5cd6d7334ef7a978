"""National investment project code: shape, year and region are checked, the rest is opaque."""

from __future__ import annotations

from datetime import date

import pytest

from services.projects.codes import (
    PROJECT_CODE_FORMAT,
    InvalidProjectCode,
    region_of,
    region_problem,
    validate_project_code,
)

TODAY = date(2024, 6, 1)


@pytest.mark.parametrize(
    "code",
    [
        "2023-370602-47-01-123456",  # Zhifu
        "2020-370000-44-02-000001",  # a provincial code
        "2024-370600-78-01-654321",  # Yantai city
        "2021-110101-48-03-999999",  # Beijing, a municipality's district
        "2022-469001-04-01-100000",  # Hainan, a county under the province directly
        "2022-810000-04-01-100000",  # Hong Kong
    ],
)
def test_well_formed_codes_pass_and_come_back_unchanged(code: str) -> None:
    assert validate_project_code(code, today=TODAY) == code


def test_surrounding_space_full_width_and_long_dashes_are_normalised() -> None:
    assert validate_project_code(" ２０２３－370602—47-01-123456 ", today=TODAY) == (
        "2023-370602-47-01-123456"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "2023370602470112345",
        "2023-370602-47-01-12345",  # serial too short
        "2023-37060-47-01-123456",  # region too short
        "2023-370602-4A-01-123456",  # letter in the department code
        "23-370602-47-01-123456",
        "2023-370602-47-01-123456-1",
    ],
)
def test_wrong_shape_is_refused_with_the_expected_pattern(raw: str) -> None:
    with pytest.raises(InvalidProjectCode) as err:
        validate_project_code(raw, today=TODAY)
    assert err.value.part == "shape"
    assert PROJECT_CODE_FORMAT in err.value.detail
    assert err.value.status == 422
    assert err.value.errors[0]["loc"] == ["code"]


def test_year_before_2020_is_refused() -> None:
    with pytest.raises(InvalidProjectCode) as err:
        validate_project_code("2019-370602-47-01-123456", today=TODAY)
    assert err.value.part == "year"
    assert "2019" in err.value.detail and "2020" in err.value.detail


def test_year_after_this_year_is_refused() -> None:
    with pytest.raises(InvalidProjectCode) as err:
        validate_project_code("2025-370602-47-01-123456", today=TODAY)
    assert err.value.part == "year"
    assert "future" in err.value.detail


def test_this_years_code_is_accepted_on_new_years_day() -> None:
    assert validate_project_code("2025-370602-47-01-123456", today=date(2025, 1, 1))


@pytest.mark.parametrize(
    ("region", "reason"),
    [
        ("000000", "'00' is not a province-level prefix"),
        ("990602", "'99' is not a province-level prefix"),
        ("160602", "'16' is not a province-level prefix"),
        ("380602", "'38' is not a province-level prefix"),
        ("370002", "county part without a prefecture part"),
    ],
)
def test_implausible_region_is_refused_with_the_reason(region: str, reason: str) -> None:
    with pytest.raises(InvalidProjectCode) as err:
        validate_project_code(f"2023-{region}-47-01-123456", today=TODAY)
    assert err.value.part == "region"
    assert region in err.value.detail
    assert reason in err.value.detail


def test_every_province_level_prefix_is_plausible() -> None:
    prefixes = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37]
    prefixes += [41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82]
    assert all(region_problem(f"{p}0000") is None for p in prefixes)


def test_region_of_extracts_the_region() -> None:
    assert region_of("2023-370602-47-01-123456") == "370602"


def test_location_of_the_error_can_be_given() -> None:
    with pytest.raises(InvalidProjectCode) as err:
        validate_project_code("nope", today=TODAY, loc=["rows", 2, "code"])
    assert err.value.errors[0]["loc"] == ["rows", 2, "code"]
