"""Tables and schemas of the projects service."""

from sqlmodel import SQLModel

from services.common.db import service_registry
from services.common.outbox import outbox_table

registry = service_registry()
metadata = registry.metadata


class ProjectsModel(SQLModel, registry=registry):
    """Base of every table of this service (its own metadata)."""


outbox = outbox_table(metadata)
