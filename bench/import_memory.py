"""Benchmark: memory an import costs the projects service, ordinary and adversarial files.

Usage: python bench/import_memory.py [--csv-rows 50000] [--xlsx-rows 10000]
Each file is posted to a fresh projects service (a real `uvicorn` process on SQLite, with its
own nats-server). While the request runs, the resident memory of the service process and of
every process it started (the fork server and the sheet-reading workers) is sampled every 10 ms;
printed is the peak above the idle figure taken just before the upload.
Goals: a 50,000-row csv and a 10,000-row xlsx under 300 MB; the adversarial files (one cell at
XFD1048576; a small xlsx holding 320 MB of XML) refused with under 50 MB of growth.
Baseline (before the reading envelope): the far cell aborted the service (`memory allocation of
549755813888 bytes failed`); the XML bomb took it from 0.5 to 1.8 GB.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from import_projects import ledger  # noqa: E402  (bench/ is on the path as the script's dir)

from services.common.auth import Role, issue_token  # noqa: E402
from services.common.natsserver import NatsServer  # noqa: E402
from tests.sheet_files import far_cell_xlsx, xml_bomb_xlsx  # noqa: E402

SECRET = "bench-secret-" + "x" * 40
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def family(root: int) -> list[int]:
    """The process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Sampler(threading.Thread):
    """Peak RSS of the service alone and of the service with its descendants, every 10 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.service_peak = self.family_peak = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.service_peak = max(self.service_peak, rss(self.pid))
            self.family_peak = max(self.family_peak, sum(rss(p) for p in family(self.pid)))
            time.sleep(0.01)


def measure(label: str, content: bytes, filename: str, nats_url: str) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="plantrack-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "PLANTRACK_ENV": "test",
        "PLANTRACK_SECRET": SECRET,
        "PLANTRACK_DATA_DIR": str(data_dir),
        # Measured in the request, as the figures beside it were (a job runs the same import)
        "PLANTRACK_IMPORT_JOB_MIN_ROWS": str(10**9),
        "PLANTRACK_NATS_URL": nats_url,
        "PLANTRACK_SUBJECT_PREFIX": f"b{port}",
        "PLANTRACK_STREAM": f"B{port}",
        "PLANTRACK_LIVE_STREAM": f"BL{port}",
    }
    cmd = [sys.executable, "-m", "uvicorn", "services.projects.app:create_app", "--factory",
           "--port", str(port), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    token = issue_token(SECRET, Role.project_office, subject="bench")
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
            time.sleep(1.0)
            idle_service = rss(proc.pid)
            idle_family = sum(rss(p) for p in family(proc.pid))
            sampler = Sampler(proc.pid)
            sampler.start()
            started = time.perf_counter()
            r = client.post(
                "/api/v1/projects/import",
                files={
                    "file": (filename, content, XLSX if filename.endswith("xlsx") else "text/csv")
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            seconds = time.perf_counter() - started
            sampler.stop.set()
            sampler.join()
            alive = proc.poll() is None and client.get("/healthz").status_code == 200
        service_growth = (sampler.service_peak - idle_service) / MB
        family_growth = (sampler.family_peak - idle_family) / MB
        answer = r.json().get("imported", r.json().get("limit", r.json().get("title")))
        print(
            f"{label:<34} {len(content) / MB:7.2f} MB file  → {r.status_code} ({answer}) in "
            f"{seconds:5.1f} s; peak above idle: service {service_growth:6.1f} MB,"
            f" service+workers {family_growth:6.1f} MB;"
            f" service {'up' if alive else 'DOWN'}"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--csv-rows", type=int, default=50_000)
    parser.add_argument("--xlsx-rows", type=int, default=10_000)
    args = parser.parse_args()
    nats = NatsServer(store_dir=Path(tempfile.mkdtemp(prefix="plantrack-bench-nats-"))).start()
    try:
        print("goal: ordinary imports < 300 MB above idle; adversarial files refused, < 50 MB")
        measure(f"{args.csv_rows:,}-row csv", ledger(args.csv_rows, "csv"), "ledger.csv", nats.url)
        measure(
            f"{args.xlsx_rows:,}-row xlsx", ledger(args.xlsx_rows, "xlsx"), "ledger.xlsx", nats.url
        )
        measure("one cell at XFD1048576", far_cell_xlsx(), "far.xlsx", nats.url)
        measure("xlsx holding 320 MB of XML", xml_bomb_xlsx(320), "bomb.xlsx", nats.url)
    finally:
        nats.stop()


if __name__ == "__main__":
    main()
