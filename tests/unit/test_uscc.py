"""Unified Social Credit Code: the check character, the refusals and their reasons."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.enterprises import uscc
from services.enterprises.uscc import ALPHABET, InvalidUSCC, check_character, validate

VALID = ["91110000600037341L", "91371082775260043P", "91310115MA1K3BTP2B"]


@pytest.mark.parametrize("code", VALID)
def test_published_valid_codes_are_accepted(code: str) -> None:
    assert validate(code) == code


def test_worked_example_check_character_is_l() -> None:
    # DOMAIN.md: the weighted sum is 538, 538 mod 31 = 11, 31 - 11 = 20 -> "L".
    body = "91110000600037341"
    assert sum(ALPHABET.index(c) * w for c, w in zip(body, uscc.WEIGHTS, strict=True)) == 538
    assert check_character(body) == "L"


def test_weights_are_powers_of_three_mod_31() -> None:
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_lower_case_and_spaces_are_normalised() -> None:
    assert validate("  91310115ma1k3btp2b ") == "91310115MA1K3BTP2B"
    assert validate("9131 0115 MA1K 3BTP 2B") == "91310115MA1K3BTP2B"


def test_full_width_input_is_folded() -> None:
    assert validate("９１３７１０８２７７５２６００４３Ｐ") == "91371082775260043P"


def test_wrong_check_character_names_expected_and_found() -> None:
    with pytest.raises(InvalidUSCC) as err:
        validate("91110000600037341K")
    assert err.value.rule == "check_character"
    assert err.value.status == 422
    assert "expected 'L'" in err.value.detail
    assert "found 'K'" in err.value.detail
    assert err.value.errors == [{"loc": ["uscc"], "msg": err.value.detail}]


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_forbidden_letters_are_refused_with_position(letter: str) -> None:
    code = "91110000600037341L"
    bad = code[:9] + letter + code[10:]
    with pytest.raises(InvalidUSCC) as err:
        validate(bad)
    assert err.value.rule == "character"
    assert f"'{letter}' at position 10" in err.value.detail
    assert "I, O, S, V and Z" in err.value.detail


def test_forbidden_lower_case_letter_is_reported_upper_cased() -> None:
    with pytest.raises(InvalidUSCC, match="'O' at position 1"):
        validate("o1110000600037341L")


def test_punctuation_is_refused_as_a_character() -> None:
    with pytest.raises(InvalidUSCC) as err:
        validate("9111000060-037341L")
    assert err.value.rule == "character"
    assert "'-' at position 11" in err.value.detail


@pytest.mark.parametrize(
    ("raw", "found"),
    [("9111000060003734", "found 16"), ("91110000600037341LX", "found 19"), ("   ", "empty")],
)
def test_wrong_length_says_the_length_found(raw: str, found: str) -> None:
    with pytest.raises(InvalidUSCC) as err:
        validate(raw)
    assert err.value.rule == "length"
    assert "18 characters" in err.value.detail
    assert found in err.value.detail


def test_error_location_can_be_given() -> None:
    with pytest.raises(InvalidUSCC) as err:
        validate("123", loc=["rows", 4, "uscc"])
    assert err.value.errors[0]["loc"] == ["rows", 4, "uscc"]


def test_region_code_is_positions_3_to_8() -> None:
    assert uscc.region_code("91371082775260043P") == "371082"


def test_is_valid_mirrors_validate() -> None:
    assert uscc.is_valid("91110000600037341l")
    assert not uscc.is_valid("91110000600037341K")


bodies = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


@given(body=bodies)
def test_every_code_with_computed_check_character_is_accepted(body: str) -> None:
    code = body + check_character(body)
    assert validate(code) == code


@given(body=bodies, position=st.integers(0, 17), shift=st.integers(1, 30))
def test_every_single_character_corruption_is_rejected(
    body: str, position: int, shift: int
) -> None:
    # Each weight is a non-zero residue mod 31 (a prime), so changing any one value by a
    # non-zero amount changes the weighted sum mod 31 and hence the check character.
    code = body + check_character(body)
    replacement = ALPHABET[(ALPHABET.index(code[position]) + shift) % 31]
    corrupted = code[:position] + replacement + code[position + 1 :]
    assert corrupted != code
    with pytest.raises(InvalidUSCC) as err:
        validate(corrupted)
    assert err.value.rule == "check_character"


def test_single_corruptions_are_rejected_exhaustively_for_the_worked_example() -> None:
    code = VALID[0]
    for position in range(18):
        for ch in ALPHABET:
            if ch != code[position]:
                assert not uscc.is_valid(code[:position] + ch + code[position + 1 :])
