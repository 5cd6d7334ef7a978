"""The event contract: docs/EVENTS.md and the payload classes name the same events."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.contracts.events import (
    EVENT_TYPES,
    ProjectStageAnnounced,
    ProjectStageChanged,
)
from services.common.envelope import Event

DOC = Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md"


def documented() -> dict[str, str]:
    """Type → producer, from the Types table of docs/EVENTS.md."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Types", 1)[1].split("\n## ", 1)[0]
    out: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] in ("projects", "enterprises", "events"):
            for name in re.findall(r"`(\w+)`", cells[1]):
                out[name] = cells[0]
    return out


def test_every_documented_event_has_a_payload_class_and_every_class_is_documented() -> None:
    docs = documented()
    assert len(docs) >= 18
    assert set(docs) == set(EVENT_TYPES)
    assert {name: kind.PRODUCER for name, kind in EVENT_TYPES.items()} == docs


def test_a_payload_survives_the_envelope_round_trip() -> None:
    snapshot = {"id": 12, "version": 2, "category": "school", "stages": []}
    change = ProjectStageChanged(project=snapshot, from_="reserve", to="starting", ordinal=1)
    event = Event.from_bytes(change.envelope(subject=12, on=date(2025, 3, 1)).to_bytes())
    assert (event.type, event.producer, event.subject) == ("ProjectStageChanged", "projects", "12")
    assert event.payload["from"] == "reserve"
    assert EVENT_TYPES[event.type].parse(event.payload) == change


def test_the_live_stage_notice_has_its_own_name() -> None:
    assert ProjectStageAnnounced.TYPE != ProjectStageChanged.TYPE
    assert (ProjectStageAnnounced.PRODUCER, ProjectStageAnnounced.STREAM) == ("projects", "live")


def test_a_payload_without_its_snapshot_is_refused() -> None:
    with pytest.raises(ValidationError, match="project"):
        ProjectStageChanged.parse({"project": "12", "from": "reserve", "to": "built", "ordinal": 1})
