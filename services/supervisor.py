"""The local supervisor behind `plantrack up`: embedded nats-server, three services, gateway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.common.natsserver import NatsServer, free_port, local_cluster, port_open
from services.common.settings import EMBEDDED_NATS_PORT, Settings

APPS = {
    "projects": "services.projects.app:create_app",
    "enterprises": "services.enterprises.app:create_app",
    "events": "services.events.app:create_app",
    "gateway": "gateway.app:create_app",
}
OFFSETS = {"gateway": 0, "projects": 1, "enterprises": 2, "events": 3}


@dataclass
class Supervisor:
    """Starts everything, waits until the gateway reports all ready, and stops it all cleanly."""

    data_dir: Path
    port: int = 8000
    nats_url: str | None = None
    nats_cluster: int = 0
    replicas: int = 1
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    nats_servers: list[NatsServer] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def url(self, name: str, replica: int = 0) -> str:
        return f"http://{self.host}:{self.port + OFFSETS[name] + 10 * replica}"

    def start_nats(self) -> str:
        if self.nats_url:
            return self.nats_url
        if self.nats_cluster > 1:
            self.nats_servers = local_cluster(self.data_dir / "nats-cluster", self.nats_cluster)
            for s in self.nats_servers:
                s.log_file = self.log_dir / f"nats-{s.name}.log"
                s.start()
            return ",".join(s.url for s in self.nats_servers)
        port = EMBEDDED_NATS_PORT if not port_open(EMBEDDED_NATS_PORT) else free_port()
        server = NatsServer(
            store_dir=self.data_dir / "nats", port=port, log_file=self.log_dir / "nats.log"
        )
        server.start()
        self.nats_servers = [server]
        return server.url

    def env(self, nats_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env["PLANTRACK_DATA_DIR"] = str(self.data_dir)
        env["PLANTRACK_NATS_URL"] = nats_url
        env.setdefault("PLANTRACK_PROJECTS_URL", self.url("projects"))
        env.setdefault("PLANTRACK_ENTERPRISES_URL", self.url("enterprises"))
        env.setdefault("PLANTRACK_EVENTS_URL", self.url("events"))
        if self.nats_cluster > 1:
            env.setdefault("PLANTRACK_STREAM_REPLICAS", str(min(3, self.nats_cluster)))
        return env

    def start_app(self, name: str, env: dict[str, str], replica: int = 0) -> None:
        port = self.port + OFFSETS[name] + 10 * replica
        key = name if replica == 0 else f"{name}-{replica}"
        log = open(self.log_dir / f"{key}.log", "ab")  # noqa: SIM115 - owned by the child
        self.procs[key] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                APPS[name],
                "--factory",
                "--host",
                self.host,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "5",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        Settings(
            data_dir=self.data_dir
        ).signing_secret()  # one secret, made before any child reads it
        env = self.env(self.start_nats())
        for name in ("projects", "enterprises", "events"):
            for r in range(self.replicas):
                self.start_app(name, env, r)
        self.start_app("gateway", env)

    def wait_ready(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            for key, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{key} exited with {proc.returncode}; see {self.log_dir / key}.log"
                    )
            try:
                r = httpx.get(self.url("gateway") + "/readyz", timeout=2)
                last = r.json()
                if r.status_code == 200 and last.get("ready"):
                    return last
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"not ready within {timeout}s: {last}")

    def stop(self, timeout: float = 15.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        for server in self.nats_servers:
            server.stop()
        self.nats_servers.clear()
