"""Tables and schemas of the events service."""

from sqlmodel import SQLModel

from services.common.db import service_registry
from services.common.inbox import inbox_table
from services.common.outbox import outbox_table

registry = service_registry()
metadata = registry.metadata


class EventsModel(SQLModel, registry=registry):
    """Base of every table of this service (its own metadata)."""


inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
