"""`plantrack up` beside other programs and other users: a taken service port is moved, a taken
public port is one clear line, and everything it writes is readable by its user alone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.e2e.conftest import free_port_block
from tests.e2e.test_up import ctrl_c, start_up, wait_announced

HOLD = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print('held', flush=True); time.sleep(600)\n"
)


@contextmanager
def port_held_by_another_program(port: int) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_a_taken_public_port_is_one_clear_line_naming_it_and_port(tmp_path: Path) -> None:
    port = free_port_block()
    with port_held_by_another_program(port):
        proc = start_up(tmp_path / "data", port)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    lines = [x for x in out.splitlines() if x.strip()]
    assert lines == [
        f"port {port} is already in use by another program: "
        "stop it or choose another port with --port"
    ]


def test_a_taken_service_port_is_replaced_by_a_free_one_and_said(tmp_path: Path) -> None:
    port = free_port_block()
    with port_held_by_another_program(port + 3):  # the events service's port
        proc = start_up(tmp_path / "data", port)
        try:
            announced = "".join(wait_announced(proc, timeout=60))
            r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            assert r.status_code == 200, r.text
        finally:
            out = ctrl_c(proc)
    assert proc.returncode == 0, out
    said = next(x for x in announced.splitlines() if f"events: port {port + 3} is taken" in x)
    moved = int(said.rsplit("using ", 1)[1].split()[0])
    assert moved != port + 3
    assert f"events      http://127.0.0.1:{moved}" in announced


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_databases_secret_and_logs_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port_block()
    proc = start_up(data_dir, port)
    try:
        wait_announced(proc, timeout=60)
        time.sleep(0.5)  # the services have written their WAL by now
        assert mode(data_dir) == 0o700
        assert mode(data_dir / "secret.key") == 0o600
        for name in ("projects", "enterprises", "events"):
            for suffix in (".db", ".db-wal"):
                assert mode(data_dir / f"{name}{suffix}") == 0o600, name + suffix
        for log in (data_dir / "logs").iterdir():
            assert mode(log) == 0o600, log
        for root, dirs, files in os.walk(data_dir / "nats"):
            for each in dirs + files:
                assert mode(Path(root) / each) & 0o077 == 0, Path(root) / each
    finally:
        ctrl_c(proc)
