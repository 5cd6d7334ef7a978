"""Alembic environment of the enterprises service: its own metadata only."""

from services.common.db import run_migrations_env
from services.enterprises.models import metadata

run_migrations_env(metadata)
