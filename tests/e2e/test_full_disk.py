"""A full disk under `plantrack up`: writes are answered 507 (never 500), /readyz says the disk
is full, and once space returns writes succeed and the live stream delivers again.

The data dir lives on a small tmpfs this test mounts (CI runs as root, as the apt line needs)."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.errors import Error as NatsError

from services.common import natsauth
from services.common.auth import Role, issue_token
from tests.e2e.conftest import free_port_block
from tests.e2e.test_supervision import start_up
from tests.e2e.test_up import ctrl_c, wait_announced

DISK_MB = 96


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"this test mounts a tmpfs and needs root: {done.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; the file is removed to give them back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


async def publish_live(data_dir: Path) -> bool:
    """Publish one live notice as the events service would; whether the broker stored it."""
    url = json.loads((data_dir / "status.json").read_text())["nats"]
    password = natsauth.credentials(data_dir)["events"]
    nc = await nats.connect(url, user="events", password=password, connect_timeout=2)
    try:
        await nc.jetstream().publish("plantrack.live.target.schools", b"{}", timeout=2)
        return True
    except NatsError:
        return False
    finally:
        await nc.close()


def service_storage(port: int) -> dict:
    body = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
    return {
        name: svc.get("checks", {}).get("storage", {}) for name, svc in body["services"].items()
    }


def test_a_full_disk_is_507_and_readyz_says_so_and_all_recovers(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    port = free_port_block()
    # The live stream's limit must fit the disk, or JetStream refuses to make it.
    proc = start_up(data_dir, port, PLANTRACK_LIVE_STREAM_MAX_BYTES=str(4 << 20))
    gateway = f"http://127.0.0.1:{port}"
    try:
        wait_announced(proc, timeout=60)
        secret = (data_dir / "secret.key").read_text().strip()
        headers = {"Authorization": f"Bearer {issue_token(secret, Role.admin)}"}
        filler = fill(small_disk)

        answers: list[int] = []
        refused = None
        for n in range(2000):
            body = {"name": f"芝罘区满盘测试项目{n}-" + "长" * 150, "category": "school"}
            r = httpx.post(f"{gateway}/api/v1/projects", json=body, headers=headers, timeout=30)
            answers.append(r.status_code)
            assert r.status_code in (201, 507), (r.status_code, r.text)
            if r.status_code == 507:
                refused = r
                break
        assert refused is not None, f"no write failed on a full disk: {answers[-5:]}"
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["status"] == 507 and problem["cause"] == "disk_full"
        assert "磁盘已满" in problem["detail"], problem  # Chinese unless asked otherwise

        # a notice the events service sends meanwhile fails to be stored: the stream breaks
        assert not asyncio.run(publish_live(data_dir)), "the broker stored a message on a full disk"

        ready = httpx.get(f"{gateway}/readyz", timeout=5)
        assert ready.status_code == 503
        storage = service_storage(port)
        assert storage["projects"] == {**storage["projects"], "ready": False, "error": "disk full"}

        os.remove(filler)
        deadline = time.monotonic() + 30
        while httpx.get(f"{gateway}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, service_storage(port)
            time.sleep(0.5)

        # the live stream delivers again: a stage change made now reaches a new SSE client
        with httpx.stream(
            "GET", f"{gateway}/api/v1/stream", headers=headers, timeout=httpx.Timeout(60)
        ) as stream:
            created = httpx.post(
                f"{gateway}/api/v1/projects",
                json={
                    "name": "芝罘区满盘之后的学校",
                    "category": "school",
                    "created_on": "2023-01-10",
                },
                headers=headers,
                timeout=30,
            )
            assert created.status_code == 201, created.text
            pid = created.json()["id"]
            moved = httpx.post(
                f"{gateway}/api/v1/projects/{pid}/transitions",
                json={"to": "starting", "on": "2024-03-01"},
                headers=headers,
                timeout=30,
            )
            assert moved.status_code in (200, 201), moved.text
            seen = ""
            started = time.monotonic()
            for line in stream.iter_lines():
                seen += line + "\n"
                if line.startswith("event: project") or time.monotonic() - started > 45:
                    break
        assert "event: project" in seen, seen[-500:]
    finally:
        out = ctrl_c(proc)
    assert "restarting it now that the disk has room" in out, out[-2000:]
