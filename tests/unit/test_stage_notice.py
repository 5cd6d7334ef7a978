"""The stage notice written directly is byte for byte the one the models write."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.common.contracts.events import ProjectStageChanged
from services.common.envelope import Received, new_id
from services.projects.announce import stage_notice, stage_notice_bytes


def received(payload: dict) -> Received:
    change = ProjectStageChanged.parse(payload)
    event = change.envelope(subject=str(payload["project"]["id"]), on=date(2024, 4, 1))
    return Received.from_bytes(event.to_bytes())


def snapshot(**extra) -> dict:
    return {
        "id": 41,
        "name": "芝罘区某小学新建工程",
        "category": "school",
        "stage": "built",
        **extra,
    }


@pytest.mark.parametrize(
    "payload",
    [
        {"project": snapshot(), "from": "building", "to": "built", "ordinal": 3},
        {"project": snapshot(name=None), "from": "reserve", "to": "built", "ordinal": 1},
        {"project": snapshot(), "from": "starting", "to": "cancelled", "ordinal": 2, "note": "停"},
    ],
)
@pytest.mark.parametrize(
    "at", [datetime(2024, 4, 1, 8, 0, 0, 1, UTC), datetime(2024, 4, 1, tzinfo=UTC)]
)
def test_the_direct_notice_equals_the_models_notice(payload: dict, at: datetime) -> None:
    event = received(payload)
    notice_id = new_id()
    expected = stage_notice(ProjectStageChanged.parse(event.payload), event.on)
    expected = expected.model_copy(update={"id": notice_id, "occurred_at": at})
    assert stage_notice_bytes(event, notice_id=notice_id, at=at) == expected.to_bytes()


@pytest.mark.parametrize(
    "payload",
    [
        {"project": snapshot(id="41"), "from": "building", "to": "built", "ordinal": 3},
        {"project": snapshot(name=7), "from": "building", "to": "built", "ordinal": 3},
        {"project": snapshot(), "from": "building", "to": "built", "ordinal": "3"},
        {"project": snapshot(), "to": "built", "ordinal": 3},
        {"project": [1], "from": "building", "to": "built", "ordinal": 3},
    ],
)
def test_any_other_shape_is_left_to_the_models(payload: dict) -> None:
    event = Received(new_id(), "ProjectStageChanged", "41", date(2024, 4, 1), "projects", payload)
    assert stage_notice_bytes(event) is None
