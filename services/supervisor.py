"""The local supervisor behind `plantrack up`: embedded nats-server, three services, gateway.

`up` calls `watch()` for as long as it runs: a part that exits is started again after a backoff
(0.5 s, 1 s, 2 s, …); a part that keeps exiting soon after it starts is given up on, and says so.
Every exit and restart is reported with its cause, and the state of every part is written to
`DATA_DIR/status.json`, which `plantrack status` reads.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from services.common import natsauth
from services.common.natsserver import NatsServer, free_port, local_cluster, port_open
from services.common.settings import (
    EMBEDDED_NATS_PORT,
    PRIVATE_FILE_MODE,
    PRIVATE_UMASK,
    Settings,
    private_dir,
)

APPS = {
    "projects": "services.projects.app:create_app",
    "enterprises": "services.enterprises.app:create_app",
    "events": "services.events.app:create_app",
    "gateway": "gateway.app:create_app",
}
OFFSETS = {"gateway": 0, "projects": 1, "enterprises": 2, "events": 3}
STATUS_FILE = "status.json"

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Wait before each further restart of a part that keeps exiting (times the setting
`restart_backoff_scale`, 1 unless a test shortens the waits)."""
STABLE_SECONDS = 30.0
"""A part that ran this long before it exited is restarted as if it had never failed."""
NATS_HEALTH_SECONDS = 2.0
"""How often the embedded nats-server is asked whether its store is healthy."""
MAX_QUICK_EXITS = 5
"""Exits in a row, each within STABLE_SECONDS of its start, that give the part up."""


class PortTaken(RuntimeError):
    """The public port is in use by another program."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind `port` now (the way uvicorn will)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def private_log(path: Path) -> int:
    """A log file opened for appending, readable by this user only."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)


def exit_cause(returncode: int) -> str:
    """`killed by SIGKILL`, `exited with status 3`."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def last_line(path: Path, limit: int = 4096) -> str:
    """The last non-empty line of a log file (what a crashed process said last)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            lines = [x for x in fh.read().decode(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:300] if lines else ""


@dataclass
class Part:
    """One supervised process as `plantrack status` shows it."""

    name: str
    pid: int | None = None
    state: str = "starting"  # running · restarting · gave up
    started_at: float | None = None  # wall clock, for uptime
    restarts: int = 0
    last_exit: str | None = None
    log: str | None = None
    quick_exits: int = 0
    next_start: float = 0.0  # monotonic
    started_mono: float = 0.0


@dataclass
class Supervisor:
    """Starts everything, waits until the gateway reports all ready, keeps it running
    (`watch`), and stops it all cleanly."""

    data_dir: Path
    port: int = 8000
    nats_url: str | None = None
    nats_cluster: int = 0
    replicas: int = 1
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    nats_servers: list[NatsServer] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    parts: dict[str, Part] = field(default_factory=dict)
    report: Callable[[str], None] | None = None
    restart: bool = False
    """Restart parts that exit (`up` does); tests that kill and restart parts leave it off."""
    _env: dict[str, str] = field(default_factory=dict, repr=False)
    nats_auth: bool = False
    _next_health: float = 0.0
    """The embedded server asks every part for its own user (set when `start_nats` runs one)."""

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def status_file(self) -> Path:
        return self.data_dir / STATUS_FILE

    @staticmethod
    def key(name: str, replica: int = 0) -> str:
        return name if replica == 0 else f"{name}-{replica}"

    def port_of(self, name: str, replica: int = 0) -> int:
        default = self.port + OFFSETS[name] + 10 * replica
        return self.ports.get(self.key(name, replica), default)

    def url(self, name: str, replica: int = 0) -> str:
        return f"http://{self.host}:{self.port_of(name, replica)}"

    def say(self, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        line = f"{stamp} {message}"
        if self.report is not None:
            self.report(line)
        try:
            with os.fdopen(private_log(self.log_dir / "supervisor.log"), "a") as fh:
                fh.write(line + "\n")
        except OSError:
            pass

    def choose_ports(self) -> None:
        """The gateway's port must be free (it is the public address); a service whose port
        is taken gets a free one instead, and says which."""
        if not port_free(self.port, self.host):
            raise PortTaken(
                f"port {self.port} is already in use by another program: "
                "stop it or choose another port with --port"
            )
        self.ports["gateway"] = self.port
        for name in ("projects", "enterprises", "events"):
            for r in range(self.replicas):
                key = self.key(name, r)
                wanted = self.port + OFFSETS[name] + 10 * r
                if port_free(wanted, self.host):
                    self.ports[key] = wanted
                else:
                    self.ports[key] = free_port()
                    self.say(f"{key}: port {wanted} is taken; using {self.ports[key]} instead")

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
            store_dir=self.data_dir / "nats",
            port=port,
            log_file=self.log_dir / "nats.log",
            monitor_port=free_port(),
            config_file=natsauth.write_server_config(self.data_dir, self.child_settings()),
        )
        self.nats_auth = True
        server.start()
        self.nats_servers = [server]
        return server.url

    def nats_key(self, server: NatsServer) -> str:
        return "nats" if len(self.nats_servers) == 1 else f"nats-{server.name}"

    def child_settings(self) -> Settings:
        """The names the children will use for their subjects and streams."""
        given = {**os.environ, **self.extra_env}
        names = ("subject_prefix", "stream", "live_stream")
        return Settings(
            data_dir=self.data_dir,
            **{
                n: given[f"PLANTRACK_{n.upper()}"]
                for n in names
                if f"PLANTRACK_{n.upper()}" in given
            },
        )

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
        port = self.port_of(name, replica)
        key = self.key(name, replica)
        log = private_log(self.log_dir / f"{key}.log")
        if self.nats_auth:
            env = {**env, **natsauth.client_env(self.data_dir, name)}
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
            umask=PRIVATE_UMASK,  # databases, WAL, logs: readable by this user only
        )
        os.close(log)
        self._started(key, self.procs[key].pid, self.log_dir / f"{key}.log")

    def _started(self, key: str, pid: int, log: Path | None) -> None:
        part = self.parts.setdefault(key, Part(name=key))
        part.pid = pid
        part.state = "running"
        part.started_at = time.time()
        part.started_mono = time.monotonic()
        part.log = str(log) if log else None

    def start(self) -> None:
        private_dir(self.data_dir)
        private_dir(self.log_dir)
        Settings(
            data_dir=self.data_dir
        ).signing_secret()  # one secret, made before any child reads it
        if not self.ports:
            self.choose_ports()
        nats_url = self.start_nats()
        for server in self.nats_servers:
            assert server.proc is not None
            self._started(self.nats_key(server), server.proc.pid, server.log_file)
        self._env = self.env(nats_url)
        for name in ("projects", "enterprises", "events"):
            for r in range(self.replicas):
                self.start_app(name, self._env, r)
        self.start_app("gateway", self._env)
        self.write_status()
        if self.restart:  # `up` itself, not a test's system: `plantrack token` may find it
            register(self.data_dir, self.url("gateway"))

    def _returncode(self, key: str) -> int | None:
        """The exit status of a part that has exited, None while it runs."""
        for server in self.nats_servers:
            if self.nats_key(server) == key:
                return server.proc.poll() if server.proc is not None else -signal.SIGKILL
        proc = self.procs.get(key)
        return proc.poll() if proc is not None else None

    def _respawn(self, key: str) -> None:
        for server in self.nats_servers:
            if self.nats_key(server) == key:
                server.proc = None
                server.start()  # same port and store: clients reconnect to the same address
                assert server.proc is not None
                self._started(key, server.proc.pid, server.log_file)
                return
        name, _, replica = key.partition("-")
        self.start_app(name, self._env, int(replica or 0))

    def watch(self) -> None:
        """One look at every part: note exits, restart what is due, give up on crash loops."""
        changed = False
        now = time.monotonic()
        for key, part in self.parts.items():
            if part.state == "running":
                code = self._returncode(key)
                if code is None:
                    continue
                changed = True
                self._exited(part, exit_cause(code), now)
            elif part.state == "restarting" and now >= part.next_start:
                changed = True
                try:
                    self._respawn(key)
                except Exception as exc:  # nats-server that would not start, a missing binary
                    self._exited(part, f"failed to start: {exc}", time.monotonic())
                    continue
                part.restarts += 1
                self.say(f"{key} restarted (pid {part.pid}, restart {part.restarts})")
        if now >= self._next_health:
            self._next_health = now + NATS_HEALTH_SECONDS
            changed = self._revive_stores(now) or changed
        if changed:
            self.write_status()

    def _revive_stores(self, now: float) -> bool:
        """A nats-server whose stream failed to write (the disk was full) keeps failing until
        it restarts: restart it once the disk has room again."""
        revived = False
        room = self.child_settings().min_free_disk_mb * 1024 * 1024
        for server in self.nats_servers:
            part = self.parts.get(self.nats_key(server))
            if part is None or part.state != "running":
                continue
            error = server.store_error()
            if error is None or shutil.disk_usage(server.store_dir).free < room:
                continue
            self.say(f"{part.name}: {error}; restarting it now that the disk has room")
            server.stop()
            part.pid = None
            part.last_exit = "restarted after a store write error (disk full)"
            part.state = "restarting"
            part.next_start = now
            revived = True
        return revived

    def _exited(self, part: Part, cause: str, now: float) -> None:
        ran = now - part.started_mono
        part.quick_exits = part.quick_exits + 1 if ran < STABLE_SECONDS else 1
        # What a process that exited by itself said last is usually why (a signal says it all).
        said = last_line(Path(part.log)) if part.log and cause.startswith("exited") else ""
        part.last_exit = cause + (f": {said}" if said else "")
        part.pid = None
        where = f"; see {part.log}" if part.log else ""
        if part.quick_exits >= MAX_QUICK_EXITS:
            part.state = "gave up"
            self.say(
                f"{part.name} {cause} after {ran:.1f} s, {part.quick_exits} times in a row "
                f"soon after starting: not restarting it again{where}"
            )
            return
        scale = self.child_settings().restart_backoff_scale
        delay = BACKOFF_SECONDS[min(part.quick_exits, len(BACKOFF_SECONDS)) - 1] * scale
        part.state = "restarting"
        part.next_start = now + delay
        detail = f" ({said})" if said else ""
        self.say(f"{part.name} {cause} after {ran:.1f} s{detail}; restarting in {delay:g} s")

    def gave_up(self) -> list[str]:
        return [k for k, p in self.parts.items() if p.state == "gave up"]

    def write_status(self) -> None:
        """`DATA_DIR/status.json`: the supervisor's pid and every part, replaced atomically."""
        body = {
            "pid": os.getpid(),
            "data_dir": str(self.data_dir),
            "gateway": self.url("gateway"),
            "nats": self._env.get("PLANTRACK_NATS_URL"),
            "written_at": time.time(),
            "parts": {
                k: {
                    f: v
                    for f, v in asdict(p).items()
                    if f not in ("quick_exits", "next_start", "started_mono")
                }
                for k, p in self.parts.items()
            },
        }
        tmp = self.status_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh, indent=1)
        os.replace(tmp, self.status_file)

    def wait_ready(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            if self.restart:
                self.watch()
                if self.gave_up():
                    raise RuntimeError(
                        "; ".join(f"{k} {self.parts[k].last_exit}" for k in self.gave_up())
                    )
            else:
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
        self.parts.clear()
        self.status_file.unlink(missing_ok=True)
        (registry() / f"{os.getpid()}.json").unlink(missing_ok=True)


def registry() -> Path:
    """Where running supervisors of this user note their data dir (one file per process)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "plantrack" / "running"


def register(data_dir: Path, gateway: str) -> Path:
    entry = private_dir(registry()) / f"{os.getpid()}.json"
    fd = os.open(entry, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": os.getpid(), "data_dir": str(data_dir), "gateway": gateway}, fh)
    return entry


def running_deployments() -> list[dict]:
    """The deployments `plantrack up` is running for this user now (stale notes are skipped)."""
    found = []
    for entry in sorted(registry().glob("*.json")):
        try:
            body = json.loads(entry.read_text())
            os.kill(int(body["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(body)
    return found


def read_status(data_dir: Path) -> dict | None:
    """The running supervisor's status for `data_dir`, or None when none runs there."""
    try:
        body = json.loads((data_dir / STATUS_FILE).read_text())
        os.kill(int(body["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return body
