"""National investment project code (项目代码, GB/T 40058-2021): shape, year and region checks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

from services.common.contracts.calendar import business_date
from services.common.errors import Invalid
from services.common.i18n import Text
from services.projects.labels import MESSAGES

PROJECT_CODE_FORMAT = "YYYY-RRRRRR-NN-NN-NNNNNN"
FIRST_YEAR = 2020
"""The current form of the code has been issued since November 2020."""

# GB/T 2260 province-level prefixes: the 31 mainland divisions, Taiwan, Hong Kong and Macao.
PROVINCE_PREFIXES: frozenset[str] = frozenset(
    [f"{n}" for n in range(11, 16)]
    + [f"{n}" for n in range(21, 24)]
    + [f"{n}" for n in range(31, 38)]
    + [f"{n}" for n in range(41, 47)]
    + [f"{n}" for n in range(50, 55)]
    + [f"{n}" for n in range(61, 66)]
    + ["71", "81", "82"]
)

_SHAPE = re.compile(r"(\d{4})-(\d{6})-(\d{2})-(\d{2})-(\d{6})")
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹣"})
_DEFAULT_LOC = ("code",)


class InvalidProjectCode(Invalid):
    """The text is not a national investment project code; `part` names what failed."""

    def __init__(
        self, detail: str | Text, *, part: str, loc: Sequence[str | int] | None = _DEFAULT_LOC
    ) -> None:
        super().__init__(detail, loc=loc)
        self.part = part


def normalise_project_code(raw: str) -> str:
    """The code as stored: full-width forms and dash look-alikes folded, whitespace removed."""
    folded = unicodedata.normalize("NFKC", raw).translate(_DASHES)
    return "".join(folded.split())


def region_problem(region: str) -> Text | None:
    """Why a 6-digit code cannot be a GB/T 2260 division, or None if it is plausible."""
    if len(region) != 6 or not region.isdigit():
        return MESSAGES("code.region_digits")
    if region[:2] not in PROVINCE_PREFIXES:
        return MESSAGES("code.region_province", prefix=region[:2])
    if region[2:4] == "00" and region[4:] != "00":
        # A county-level code always sits under a prefecture (or a municipality's 01/02).
        return MESSAGES("code.region_county")
    return None


def validate_project_code(
    raw: str, *, today: date | None = None, loc: Sequence[str | int] | None = _DEFAULT_LOC
) -> str:
    """The normalised code, or `InvalidProjectCode` naming the failing part (shape/year/region)."""
    code = normalise_project_code(raw)
    match = _SHAPE.fullmatch(code)
    if match is None:
        raise InvalidProjectCode(
            MESSAGES("code.shape", code=code, format=PROJECT_CODE_FORMAT),
            part="shape",
            loc=loc,
        )
    year_text, region = match.group(1), match.group(2)
    year = int(year_text)
    this_year = (today or business_date()).year
    if year < FIRST_YEAR:
        raise InvalidProjectCode(
            MESSAGES("code.year_early", year=year, first=FIRST_YEAR),
            part="year",
            loc=loc,
        )
    if year > this_year:
        raise InvalidProjectCode(
            MESSAGES("code.year_future", year=year, this_year=this_year),
            part="year",
            loc=loc,
        )
    problem = region_problem(region)
    if problem is not None:
        raise InvalidProjectCode(
            MESSAGES("code.region", region=region, problem=problem),
            part="region",
            loc=loc,
        )
    return code


def region_of(code: str) -> str:
    """The 6-digit region part of a (valid) project code."""
    return normalise_project_code(code)[5:11]
