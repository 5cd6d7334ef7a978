"""Alembic environment of the projects service: its own metadata only."""

from services.common.db import run_migrations_env
from services.projects.models import metadata

run_migrations_env(metadata)
