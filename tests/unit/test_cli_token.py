"""`plantrack token` signs with the running deployment's secret, or refuses: it never makes a
new secret whose tokens every service would answer with 401."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.common.auth import Role, decode_token
from services.common.settings import Settings


@pytest.fixture(autouse=True)
def no_plantrack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PLANTRACK_SECRET", "PLANTRACK_DATA_DIR", "PLANTRACK_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_token_refuses_a_data_dir_that_holds_no_deployment(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    result = CliRunner().invoke(app, ["token", "viewer", "--data-dir", str(empty)])
    assert result.exit_code == 1
    assert f"no plantrack deployment in {empty}" in result.output
    assert "--data-dir" in result.output
    assert not empty.exists(), "no directory and no secret were made"


def test_token_without_data_dir_outside_a_deployment_refuses_and_makes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["token", "admin"])
    assert result.exit_code == 1
    assert "no plantrack deployment in" in result.output
    assert not (tmp_path / ".plantrack").exists()


def test_token_for_a_deployment_is_signed_with_its_secret(tmp_path: Path) -> None:
    secret = Settings(data_dir=tmp_path).signing_secret()
    result = CliRunner().invoke(app, ["token", "project_office", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    claims = decode_token(secret, result.output.strip())
    assert claims.role == Role.project_office


def test_token_with_a_configured_secret_needs_no_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLANTRACK_SECRET", "s" * 40)
    result = CliRunner().invoke(app, ["token", "viewer"])
    assert result.exit_code == 0, result.output
    assert decode_token("s" * 40, result.output.strip()).role == Role.viewer
    assert not (tmp_path / ".plantrack").exists()
