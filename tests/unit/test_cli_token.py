"""`plantrack token` signs with the running deployment's secret, or refuses: it never makes a
new secret whose tokens every service would answer with 401."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.common.auth import Role, decode_token
from services.common.settings import Settings


@pytest.fixture(autouse=True)
def no_plantrack_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PLANTRACK_SECRET", "PLANTRACK_DATA_DIR", "PLANTRACK_ENV"):
        monkeypatch.delenv(name, raising=False)
    # no deployment `up` runs for this user, unless a test notes one
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "no-state"))


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


def note_running(state: Path, data_dir: Path, pid: int) -> None:
    running = state / "plantrack" / "running"
    running.mkdir(parents=True, exist_ok=True)
    (running / f"{pid}.json").write_text(
        json.dumps({"pid": pid, "data_dir": str(data_dir), "gateway": "http://127.0.0.1:1"})
    )


def test_token_without_data_dir_uses_the_one_running_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = tmp_path / "deployment"
    secret = Settings(data_dir=deployment).signing_secret()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    note_running(tmp_path / "state", deployment, os.getpid())  # a live process
    note_running(tmp_path / "state", tmp_path / "gone", 2**22 + 7)  # no such process
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["token", "viewer"])
    assert result.exit_code == 0, result.output
    assert decode_token(secret, result.output.strip().splitlines()[-1]).role == Role.viewer
    assert f"using the deployment running from {deployment}" in result.output
    assert not (tmp_path / ".plantrack").exists()


def test_token_without_data_dir_refuses_to_guess_between_two_deployments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("a", "b"):
        Settings(data_dir=tmp_path / name).signing_secret()
    note_running(tmp_path / "state", tmp_path / "a", os.getpid())
    note_running(tmp_path / "state", tmp_path / "b", os.getppid())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["token", "viewer"])
    assert result.exit_code == 1
    assert "several are running" in result.output and "--data-dir" in result.output
