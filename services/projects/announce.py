"""The live notice of a stage change, sent by the projects service as it relays the change.

A dashboard shows a transition the moment it is made, not when the roll-up gets to it: while
the events service works through a backlog (a replay, a long stop, a bulk import) it would
otherwise announce every old transition it applies and hold back the new one behind them. So the
relay, once JetStream has acknowledged a `ProjectStageChanged`, publishes its
`ProjectStageAnnounced` on the live stream (`<prefix>.live.project.<id>`, `Nats-Msg-Id`
`stage-<event id>`, so a row relayed twice is announced once). A lost notice costs a dashboard
one refresh; the target change the transition causes is the roll-up's to announce.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import orjson

from services.common.contracts.events import ProjectStageAnnounced, ProjectStageChanged
from services.common.envelope import Event, Received, new_id, utcnow

_TEXT = (str, type(None))


def stage_notice(change: ProjectStageChanged, on: date) -> Event:
    """ProjectStageAnnounced: a project's stage change as the dashboards show it (live stream)."""
    project = change.project
    notice = ProjectStageAnnounced(
        id=project["id"],
        name=project.get("name"),
        category=project.get("category"),
        from_=change.from_,
        to=change.to,
        on=on,
    )
    return notice.envelope(subject=project["id"], on=on)


def stage_notice_bytes(
    e: Received, *, notice_id: uuid.UUID | None = None, at: datetime | None = None
) -> bytes | None:
    """`stage_notice(...).to_bytes()` of a well-formed ProjectStageChanged, written directly:
    a bulk import relays thousands of stage changes, and the models cost several times the
    relaying itself. None when the payload is anything but the plain shape (the models then
    decide)."""
    p = e.payload
    project = p.get("project")
    if not (
        type(project) is dict
        and type(p.get("from")) is str
        and type(p.get("to")) is str
        and type(p.get("ordinal")) is int
        and type(p.get("note", None)) in _TEXT
        and type(project.get("id")) is int
        and type(project.get("name")) in _TEXT
        and type(project.get("category")) in _TEXT
    ):
        return None
    on = e.on.isoformat()
    occurred = (at or utcnow()).isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {
            "id": str(notice_id or new_id()),
            "type": ProjectStageAnnounced.TYPE,
            "subject": str(project["id"]),
            "occurred_at": occurred,
            "on": on,
            "producer": ProjectStageAnnounced.PRODUCER,
            "schema_version": 1,
            "payload": {
                "id": project["id"],
                "name": project.get("name"),
                "category": project.get("category"),
                "from": p["from"],
                "to": p["to"],
                "on": on,
            },
        }
    )


def announce(event_type: str, data: bytes) -> tuple[str, bytes, str] | None:
    """What the relay publishes on the live stream after an outbox row was acknowledged:
    (subject suffix, notice, de-duplication id), or None (not a stage change, or malformed)."""
    if event_type != ProjectStageChanged.TYPE:
        return None
    try:
        e = Received.from_bytes(data)
    except ValueError:
        return None
    notice = stage_notice_bytes(e)
    if notice is not None:
        subject = str(e.payload["project"]["id"])
    else:
        try:
            change = ProjectStageChanged.parse(e.payload)
        except ValueError:
            return None
        event = stage_notice(change, e.on)
        subject, notice = event.subject, event.to_bytes()
    return f"project.{subject}", notice, f"stage-{e.id}"
