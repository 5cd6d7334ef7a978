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


def test_the_data_dir_is_made_private_and_a_lax_one_tightened(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    Settings(data_dir=fresh).database_url("projects")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    lax = tmp_path / "lax"
    lax.mkdir(mode=0o755)
    lax.chmod(0o755)
    Settings(data_dir=lax).signing_secret()
    assert stat.S_IMODE(lax.stat().st_mode) == 0o700


def test_sqlite_databases_and_their_wal_are_private(tmp_path: Path) -> None:
    from sqlalchemy import text

    from services.common.db import make_engine

    url = Settings(data_dir=tmp_path).database_url("events")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    for name in ("events.db", "events.db-wal", "events.db-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    engine.dispose()


def test_a_data_dir_without_a_secret_is_refused_when_none_may_be_made(tmp_path: Path) -> None:
    from services.common.settings import NoDeployment

    with pytest.raises(NoDeployment, match="no plantrack deployment in"):
        Settings(data_dir=tmp_path / "none").signing_secret(create=False)
    assert not (tmp_path / "none").exists()
