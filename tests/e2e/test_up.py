"""`plantrack up` from the command line: ready within 30 s, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.common.auth import Role, issue_token
from tests.e2e.conftest import free_port_block


def plantrack_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if marker in args and state != "Z":
            found.append(f"{entry.name} {args}")
    return found


def start_up(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTRACK_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_ready(port: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            body = r.json()
            if r.status_code == 200:
                return body
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready within {timeout}s: {body}")


def wait_announced(proc: subprocess.Popen[str], timeout: float = 30) -> list[str]:
    """Read `up`'s output until it says it is up (it prints that once every check passed)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Ctrl-C stops everything"):
            return lines
    raise AssertionError(f"up did not announce itself: {lines}")


def ctrl_c(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    out, _ = proc.communicate(timeout=40)
    return out


def test_up_is_ready_within_30s_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port_block()
    started = time.monotonic()
    proc = start_up(data_dir, port)
    try:
        body = wait_ready(port, timeout=30)
        assert time.monotonic() - started < 30
        assert set(body["services"]) == {"projects", "enterprises", "events"}
        for name, svc in body["services"].items():
            assert svc["ready"], name
            assert svc["checks"]["database"] == {"ready": True, "dialect": "sqlite"}, name
            assert svc["checks"]["nats"]["ready"], name
        assert body["nats"]["ready"]
        assert plantrack_processes(str(data_dir)), "the embedded nats-server runs from the data dir"
        announced = "".join(wait_announced(proc))
    finally:
        out = ctrl_c(proc)
    assert proc.returncode == 0, out
    assert "plantrack is up" in announced and "#token=" in announced
    assert "stopped" in out
    time.sleep(0.5)
    assert plantrack_processes(str(data_dir)) == []
    assert plantrack_processes(f"--port {port + 1}") == []
    assert plantrack_processes(f"--port {port}") == []
    for name in ("projects", "enterprises", "events"):
        assert (data_dir / f"{name}.db").exists()


def test_second_up_on_the_same_data_dir_keeps_the_data_and_the_first_made_the_admin(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port_block()
    proc = start_up(data_dir, port)
    try:
        wait_ready(port, timeout=30)
        first = "".join(wait_announced(proc))
        # The first `up` creates the administrator and shows its one-time password once.
        found = re.search(r"admin / (\S+)", first)
        assert found, first
        signed_in = httpx.post(
            f"http://127.0.0.1:{port}/auth/login",
            json={"username": "admin", "password": found.group(1)},
            timeout=10,
        )
        assert signed_in.status_code == 200 and signed_in.json()["roles"] == ["admin"]
        secret = (data_dir / "secret.key").read_text()
        headers = {"Authorization": f"Bearer {issue_token(secret, Role.project_office)}"}
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/projects",
            json={"name": "芝罘区重启测试学校", "category": "school"},
            headers=headers,
            timeout=10,
        )
        assert created.status_code == 201, created.text
    finally:
        ctrl_c(proc)
    proc = start_up(data_dir, port)
    try:
        wait_ready(port, timeout=30)
        second = "".join(wait_announced(proc))
        assert found.group(1) not in second and "admin /" not in second
        assert (data_dir / "secret.key").read_text() == secret, "tokens stay valid across restarts"
        again = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/projects/{created.json()['id']}",
            headers=headers,
            timeout=10,
        )
        assert again.status_code == 200 and again.json()["name"] == "芝罘区重启测试学校"
    finally:
        ctrl_c(proc)
    assert proc.returncode == 0
