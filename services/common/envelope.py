"""The event envelope every domain event travels in, and its subject naming."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """One domain event: what happened (`type`), to what (`subject`), on which business date."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    subject: str
    occurred_at: datetime = Field(default_factory=utcnow)
    on: date
    producer: str
    schema_version: int = 1
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def subject_suffix(self) -> str:
        """`producer.type`; the relay puts it under the deployment's domain prefix."""
        return f"{self.producer}.{self.type}"

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, data: bytes) -> Event:
        return cls.model_validate_json(data)
