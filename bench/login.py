"""Benchmark: sign-ins per second with Argon2id at the configured cost, beside a plain
authenticated GET (`/api/v1/me` with the session cookie, and with an operations token).

    python bench/login.py                        # the default cost (t=2, m=19456 KiB, p=1)
    python bench/login.py --clients 8 --seconds 10
    PLANTRACK_ARGON2_MEMORY_KIB=65536 python bench/login.py   # another cost

Runs the gateway as a real uvicorn process on a temporary data dir (SQLite accounts
database), creates one account, then measures each call with the same load generator.
The hash cost is a choice: it makes a guessed password expensive and a sign-in slower; the
figures say what that choice costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.accounts import passwords  # noqa: E402
from gateway.accounts.service import Accounts  # noqa: E402
from services.common.auth import Role, issue_token  # noqa: E402
from services.common.natsserver import free_port, port_open  # noqa: E402
from services.common.settings import Settings  # noqa: E402

SECRET = "bench-secret-" + "b" * 40
PASSWORD = "压测-登录-password-2025"


async def hammer(
    url: str, method: str, seconds: float, clients: int, **request: object
) -> tuple[int, list[float], int]:
    """`clients` loops calling `method url` for `seconds`: (ok calls, latencies, failures)."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            r = await client.request(method, url, **request)  # type: ignore[arg-type]
            if r.status_code == 200:
                latencies.append(time.perf_counter() - start)
            else:
                failures += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(one(client) for _ in range(clients)))
    return len(latencies), latencies, failures


def report(name: str, seconds: float, result: tuple[int, list[float], int]) -> float:
    ok, latencies, failures = result
    rate = ok / seconds
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 1 else float("nan")
    print(
        f"  {name:<40} {rate:>9.1f}/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   errors {failures}"
    )
    return rate


async def measure(base: str, seconds: float, clients: int, cookie: str, token: str) -> None:
    print(f"{clients} concurrent clients, {seconds:g} s each:")
    login = report(
        "POST /auth/login (Argon2id verify)",
        seconds,
        await hammer(
            f"{base}/auth/login",
            "POST",
            seconds,
            clients,
            json={"username": "bench", "password": PASSWORD},
        ),
    )
    me_session = report(
        "GET /api/v1/me, session cookie",
        seconds,
        await hammer(
            f"{base}/api/v1/me",
            "GET",
            seconds,
            clients,
            headers={"Cookie": f"plantrack_session={cookie}"},
        ),
    )
    me_token = report(
        "GET /api/v1/me, operations token",
        seconds,
        await hammer(
            f"{base}/api/v1/me",
            "GET",
            seconds,
            clients,
            headers={"Authorization": f"Bearer {token}"},
        ),
    )
    print(
        f"A sign-in costs what {me_session / login:.0f} session-authenticated GETs cost "
        f"({me_token / login:.0f} token-authenticated ones)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="plantrack-login-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret=SECRET)
        ph = passwords.hasher(settings)
        print(
            f"Argon2id: time_cost={ph.time_cost} memory_cost={ph.memory_cost} KiB "
            f"parallelism={ph.parallelism} hash_len={ph.hash_len} salt_len={ph.salt_len}"
        )
        stored = ph.hash(PASSWORD)
        start = time.perf_counter()
        for _ in range(10):
            ph.verify(stored, PASSWORD)
        print(f"one verify in this process: {(time.perf_counter() - start) * 100:.1f} ms")
        print(f"cores: {os.cpu_count()}  (baseline beside it: the same gateway, GET /api/v1/me)")

        accounts = Accounts(settings)
        accounts.migrate()
        accounts.add_user(username="bench", roles=["viewer"], password=PASSWORD)
        cookie = accounts.open_session(accounts.get_user("bench")).token
        accounts.close()

        port = free_port()
        env = {
            **os.environ,
            "PLANTRACK_DATA_DIR": tmp,
            "PLANTRACK_SECRET": SECRET,
            "PLANTRACK_ENV": "test",
            "PLANTRACK_NATS_URL": f"nats://127.0.0.1:{free_port()}",  # none: not on this path
            "PLANTRACK_RATE_LIMIT_PER_MINUTE": str(10**9),
            "PLANTRACK_LOGIN_ADDRESS_MAX_FAILURES": str(10**9),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not port_open(port):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the gateway did not start")
                time.sleep(0.1)
            token = issue_token(SECRET, Role.viewer, subject="bench")
            asyncio.run(
                measure(f"http://127.0.0.1:{port}", args.seconds, args.clients, cookie, token)
            )
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
