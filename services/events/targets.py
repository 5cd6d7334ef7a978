"""The plan's targets: every numeric target, loaded and checked from targets.yaml."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.common.contracts.designations import LEVELS
from services.common.contracts.stages import STARTED_STAGES
from services.common.errors import NotFound
from services.events.labels import MESSAGES

DEFAULT_PATH = Path(__file__).with_name("targets.yaml")

Measure = Literal["stock", "new", "sum", "annual", "reported", "share", "milestone"]
REPORTED_MEASURES = ("reported", "share", "milestone")
"""Measures a department reports: a statistic, a coverage (100 %) or a one-off milestone."""
Source = Literal["projects", "enterprises", "reported"]
Level = Literal[LEVELS]  # type: ignore[valid-type]
Stage = Literal[STARTED_STAGES]  # type: ignore[valid-type]
Direction = Literal["at_least", "at_most"]
ReportMode = Literal["level", "period_sum", "cumulative"]
"""How a reported target's reports make its value: the latest period's figure, the sum of the
periods' figures within the window, or the latest of running totals (see reports.value_of)."""

SNAKE_CASE = re.compile(r"[a-z0-9][a-z0-9_]*")
_ENTERPRISE_KEYS = ("designation", "level", "industry_chain", "industry_section", "landed")
_PROJECT_KEYS = ("category", "stage", "quantity_unit")


class CatalogueError(ValueError):
    """The catalogue file breaks a rule: a bad entry, a duplicate id, or not a list at all."""


class Window(BaseModel):
    """The period a target is counted over; `end` is the plan's deadline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    end: date

    @model_validator(mode="after")
    def _start_not_after_end(self) -> Self:
        if self.start > self.end:
            raise ValueError(f"window starts {self.start} after it ends {self.end}")
        return self


class Selector(BaseModel):
    """Which events count towards a target; enterprise keys and project keys never mix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    designation: str | list[str] | None = None
    level: Level | list[Level] | None = None
    industry_chain: str | None = None
    industry_section: str | None = Field(default=None, pattern=r"^[A-T]$")
    landed: bool | None = None
    source_channel: str | None = None
    category: str | list[str] | None = None
    stage: Stage | None = None
    quantity_unit: str | None = None

    @property
    def designations(self) -> list[str]:
        return _as_list(self.designation)

    @property
    def categories(self) -> list[str]:
        return _as_list(self.category)

    @property
    def levels(self) -> list[str]:
        return _as_list(self.level)

    @model_validator(mode="after")
    def _names_are_snake_case(self) -> Self:
        for name in [*self.designations, *self.categories]:
            if not SNAKE_CASE.fullmatch(name):
                raise ValueError(f"type {name!r} is not snake_case")
        return self

    def uses(self, keys: tuple[str, ...]) -> list[str]:
        """The given keys that are set on this selector."""
        return [key for key in keys if getattr(self, key) is not None]


class Target(BaseModel):
    """One numeric target of the plan, as the plan states it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SNAKE_CASE.pattern)
    clause: str = Field(pattern=r"^(\d{1,3}|ch\d{1,2})$")
    chapter: str = Field(min_length=1)
    title: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    target_value: int | float = Field(gt=0)
    baseline_value: int | float | None = None
    window: Window
    measure: Measure
    source: Source
    selector: Selector | None
    direction: Direction = "at_least"
    report_mode: ReportMode | None = None
    note: str | None = None

    @property
    def deadline(self) -> date:
        return self.window.end

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        reported = self.source == "reported"
        if reported != (self.measure in REPORTED_MEASURES):
            raise ValueError(
                "measures reported, share and milestone go with source 'reported', and only it"
            )
        if self.measure == "share" and (self.unit != "%" or self.target_value != 100):
            raise ValueError("a share target is a coverage: 100 %")
        if self.measure == "milestone" and (self.target_value != 1 or self.report_mode != "level"):
            raise ValueError("a milestone is done (1) or not (0), read as a level")
        if reported != (self.selector is None):
            raise ValueError("a reported target has selector null; a counted one needs a selector")
        if reported != (self.report_mode is not None):
            raise ValueError("a reported target declares its report_mode, and only it")
        if self.selector is not None:
            _check_selector(self.source, self.measure, self.selector)
        if self.baseline_value is not None:
            gap = self.target_value - self.baseline_value
            already_past = gap < 0 if self.direction == "at_least" else gap > 0
            if already_past:
                raise ValueError(f"baseline_value is already past the target ({self.direction})")
        return self


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _check_selector(source: Source, measure: Measure, selector: Selector) -> None:
    """Refuse a selector the events service could not count for this source and measure."""
    if source == "enterprises":
        if mixed := selector.uses(_PROJECT_KEYS):
            raise ValueError(f"enterprise selector has project keys {mixed}")
        if bool(selector.designations) == bool(selector.landed):
            raise ValueError("enterprise selector needs either designation or landed: true")
        if selector.level is not None and not selector.designations:
            raise ValueError("level only narrows a designation")
        if selector.source_channel is not None and not selector.landed:
            raise ValueError("source_channel only narrows landed enterprises")
        if measure == "stock" and not selector.designations:
            raise ValueError("a stock counts holders of a designation")
        if measure == "sum":
            raise ValueError("measure sum adds up project quantities")
    else:
        if mixed := selector.uses((*_ENTERPRISE_KEYS, "source_channel")):
            raise ValueError(f"project selector has enterprise keys {mixed}")
        if not selector.categories or selector.stage is None:
            raise ValueError("project selector needs category and stage")
        if measure == "stock":
            raise ValueError("projects are counted by stage reached, not as a stock")
        if (measure == "sum") != (selector.quantity_unit is not None):
            raise ValueError("measure sum needs quantity_unit, and quantity_unit needs sum")


def parse_catalogue(entries: object) -> list[Target]:
    """Validate raw YAML data into targets, naming the entry at fault."""
    if not isinstance(entries, list) or not entries:
        raise CatalogueError("the catalogue must be a non-empty list of targets")
    targets: list[Target] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        label = entry.get("id", "?") if isinstance(entry, dict) else "?"
        try:
            target = Target.model_validate(entry)
        except ValidationError as exc:
            raise CatalogueError(f"entry {index} ({label}): {exc}") from exc
        if target.id in seen:
            raise CatalogueError(f"entry {index}: duplicate id {target.id!r}")
        seen.add(target.id)
        targets.append(target)
    return targets


@lru_cache(maxsize=8)
def _read(path: Path) -> tuple[Target, ...]:
    with path.open(encoding="utf-8") as handle:
        return tuple(parse_catalogue(yaml.safe_load(handle)))


def load_catalogue(path: Path | None = None) -> list[Target]:
    """Every target in the catalogue, in file order; read once per path."""
    return list(_read((path or DEFAULT_PATH).resolve()))


@lru_cache(maxsize=8)
def _index(path: Path) -> dict[str, Target]:
    return {target.id: target for target in _read(path)}


def get_target(target_id: str, path: Path | None = None) -> Target:
    """The target with this id; NotFound when the catalogue has none."""
    try:
        return _index((path or DEFAULT_PATH).resolve())[target_id]
    except KeyError:
        raise NotFound(MESSAGES("target.not_found", id=target_id), loc=("id",)) from None
