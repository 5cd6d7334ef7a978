"""Alembic environment of the events service: its own metadata only."""

from services.common.db import run_migrations_env
from services.events.models import metadata

run_migrations_env(metadata)
