"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015): normalise, check, take apart."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from services.common.errors import Invalid
from services.common.i18n import Text
from services.enterprises.labels import MESSAGES

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 symbols of the code, valued 0–30 in this order."""

FORBIDDEN_LETTERS = "IOSVZ"
"""Letters the standard leaves out so they cannot be mistaken for 1, 0, 5, U and 2."""

LENGTH = 18
WEIGHTS = tuple(pow(3, i, 31) for i in range(LENGTH - 1))
"""Weights of positions 1–17: 3^(i-1) mod 31."""

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_DEFAULT_LOC = ("uscc",)


class InvalidUSCC(Invalid):
    """The text is not a Unified Social Credit Code; `rule` names the check that failed."""

    def __init__(
        self, detail: str | Text, *, rule: str, loc: Sequence[str | int] | None = _DEFAULT_LOC
    ) -> None:
        super().__init__(detail, loc=loc)
        self.rule = rule


def normalise(raw: str) -> str:
    """The code as it should be stored: full-width forms folded, whitespace removed, upper case."""
    folded = unicodedata.normalize("NFKC", raw)
    return "".join(folded.split()).upper()


def _check_characters(code: str, *, loc: Sequence[str | int] | None) -> None:
    for position, ch in enumerate(code, start=1):
        if ch in _VALUE:
            continue
        if ch in FORBIDDEN_LETTERS:
            raise InvalidUSCC(
                MESSAGES("uscc.forbidden_letter", ch=ch, position=position),
                rule="character",
                loc=loc,
            )
        raise InvalidUSCC(
            MESSAGES("uscc.character", ch=ch, position=position),
            rule="character",
            loc=loc,
        )


def check_character(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a code."""
    body = normalise(first17)
    if len(body) != LENGTH - 1:
        raise InvalidUSCC(
            MESSAGES("uscc.check_length", found=len(body)),
            rule="length",
        )
    _check_characters(body, loc=_DEFAULT_LOC)
    total = sum(_VALUE[ch] * w for ch, w in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate(raw: str, *, loc: Sequence[str | int] | None = _DEFAULT_LOC) -> str:
    """The normalised code, or `InvalidUSCC` naming the rule broken (length, character, check)."""
    code = normalise(raw)
    if len(code) != LENGTH:
        found = "it is empty" if not code else f"found {len(code)}"
        found_zh = "现为空" if not code else f"现为 {len(code)} 位"
        raise InvalidUSCC(
            MESSAGES("uscc.length", length=LENGTH, found=found, found_zh=found_zh),
            rule="length",
            loc=loc,
        )
    _check_characters(code, loc=loc)
    expected = check_character(code[:-1])
    if code[-1] != expected:
        raise InvalidUSCC(
            MESSAGES("uscc.check", expected=expected, found=code[-1]),
            rule="check_character",
            loc=loc,
        )
    return code


def is_valid(raw: str) -> bool:
    """Whether `raw` is a valid code once normalised."""
    try:
        validate(raw)
    except InvalidUSCC:
        return False
    return True


def region_code(uscc: str) -> str:
    """The GB/T 2260 region code of the registering authority (positions 3–8)."""
    return normalise(uscc)[2:8]
