"""The envelope: time-ordered ids, and what a consumer accepts as an event."""

from __future__ import annotations

import time
import uuid
from datetime import date

import orjson
import pytest

from services.common.envelope import Event, Received, new_id


def test_new_ids_are_version_7_and_sort_by_creation_time() -> None:
    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(50)]
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert all(str(first) < str(i) for i in later)  # the inbox index takes them at its end
    assert len({first, *later}) == 51
    millis = int.from_bytes(first.bytes[:6], "big")
    assert abs(millis - time.time() * 1000) < 60_000


def test_a_consumer_reads_what_a_producer_wrote() -> None:
    sent = Event(
        type="ProjectStageChanged",
        subject="12",
        on=date(2025, 3, 1),
        producer="projects",
        payload={"project": {"id": 12, "name": "芝罘区某小学"}, "to": "building"},
    )
    got = Received.from_bytes(sent.to_bytes())
    assert (got.id, got.type, got.subject, got.on, got.producer, got.payload) == (
        sent.id,
        sent.type,
        sent.subject,
        sent.on,
        sent.producer,
        sent.payload,
    )


def _body(**changes: object) -> bytes:
    body = Event(type="T", subject="1", on=date(2025, 1, 1), producer="p").model_dump(mode="json")
    body.update(changes)
    return orjson.dumps({k: v for k, v in body.items() if v is not ...})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_body(id="nope"), "id: a UUID"),
        (_body(id=...), "id: a UUID"),
        (_body(on="2025-13-01"), "on: a YYYY-MM-DD date"),
        (_body(on=None), "on: a YYYY-MM-DD date"),
        (_body(type=3), "type: a string"),
        (_body(subject=None), "subject: a string"),
        (_body(producer=...), "producer: a string"),
        (_body(payload=[1]), "payload: an object"),
    ],
)
def test_what_is_not_an_event_is_refused_naming_the_field(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Received.from_bytes(data)
