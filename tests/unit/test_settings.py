"""Settings refuse unsafe values in production and generate the secret once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.settings import Settings


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="PLANTRACK_SECRET of at least 32 characters"):
        Settings(env="production", secret="short")


def test_production_refuses_sqlite_for_a_service_database(tmp_path: Path) -> None:
    settings = Settings(env="production", secret="s" * 40, data_dir=tmp_path)
    with pytest.raises(ValueError, match="PLANTRACK_PROJECTS_DATABASE_URL must be PostgreSQL"):
        settings.database_url("projects")


def test_production_accepts_postgresql_for_its_own_database(tmp_path: Path) -> None:
    settings = Settings(
        env="production", secret="s" * 40, projects_database_url="postgresql://db/projects"
    )
    assert settings.database_url("projects") == "postgresql://db/projects"


def test_development_defaults_to_a_sqlite_file_per_service(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url("events") == f"sqlite:///{(tmp_path / 'events.db').resolve()}"


def test_secret_is_generated_once_into_the_data_dir_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).signing_secret()
    second = Settings(data_dir=tmp_path).signing_secret()
    assert first == second and len(first) >= 32
    mode = (tmp_path / "secret.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_settings_never_show_the_secret() -> None:
    settings = Settings(secret="do-not-print-me-" + "x" * 30)
    assert "do-not-print-me" not in repr(settings)
