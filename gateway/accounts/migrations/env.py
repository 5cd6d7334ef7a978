"""Alembic environment of the gateway's accounts database: its own metadata only."""

from gateway.accounts.models import metadata
from services.common.db import run_migrations_env

run_migrations_env(metadata)
