"""The targets API at growing event counts, beside a bare FastAPI endpoint returning the same bytes.

Run:  python bench/targets.py [--sizes 10000,100000,1000000] [--pg postgresql://…/test]

A private nats-server and the events service (uvicorn, as `plantrack up` runs it) on a fresh
SQLite file or PostgreSQL schema. The domain stream is filled with events shaped as the
services publish them (bench/replay.py's generator) up to each size in turn; once the service
has applied them all, it measures:

* the first `GET /api/v1/targets` and `GET /api/v1/targets/schools` (contributors and series)
  after the last batch (computed), then the p50/p99 of one client calling each back to back
  (the cost-growth figure: flat when reads are kept). Goals at the last size: p50 < 10 ms,
  p99 < 50 ms;
* at the last size, both at 64 keep-alive clients beside a bare FastAPI endpoint (a uvicorn of
  its own, run the same way) returning the same bytes, each endpoint its own: req/s, p50, p99.
  Goal: >= 0.5 x bare's req/s. At 64 clients a request's latency is mostly its wait behind the
  other 63, bare's as much as the service's, so it is printed beside bare's and the latency
  goals are judged on one client's calls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from itertools import chain, islice
from pathlib import Path

import httpx
from fastapi import FastAPI, Response

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import replay as replay_bench  # noqa: E402
from gateway_measure import hammer, summarise  # noqa: E402

from services.common import nats as natsutil  # noqa: E402
from services.common.auth import Role, issue_token  # noqa: E402
from services.common.natsserver import NatsServer, free_port, port_open  # noqa: E402
from services.events.consumer import ROLLUP_CONSUMER  # noqa: E402

SECRET = "b" * 40
TODAY = "2025-06-30"
DETAIL = "/api/v1/targets/schools"


def bare_app() -> FastAPI:
    """The baseline: the same bytes from a bare FastAPI endpoint (no auth, nothing computed)."""
    payload = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()
    detail = Path(os.environ["BENCH_BARE_DETAIL"]).read_bytes()
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> Response:
        return Response(payload, media_type="application/json")

    @app.get("/bare/detail")
    async def bare_detail() -> Response:
        return Response(detail, media_type="application/json")

    return app


def uvicorn(target: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env={**os.environ, **env}, cwd=ROOT / "bench", stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_open(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"{target} did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


async def fill(settings, events, upto: int, sent: int) -> int:
    """Publish from the generator until `upto` events are in the stream."""
    nc = await natsutil.connect(settings, name="bench-publisher")
    js = nc.jetstream(publish_async_max_pending=20_000)
    await natsutil.provision(js, settings)
    while sent < upto:
        chunk = list(islice(events, min(5_000, upto - sent)))
        futures = [
            await js.publish_async(
                f"{settings.domain_subjects}.{suffix}", data, headers={"Nats-Msg-Id": msg_id}
            )
            for suffix, data, msg_id in chunk
        ]
        await asyncio.gather(*futures)
        sent += len(chunk)
    await nc.close()
    return sent


async def drained(settings, limit: float = 3600) -> float:
    """Wait until the roll-up consumer has applied everything; returns the seconds waited."""
    nc = await natsutil.connect(settings, name="bench-watch")
    js = nc.jetstream()
    started = time.monotonic()
    try:
        while time.monotonic() < started + limit:
            try:
                info = await js.consumer_info(settings.stream, ROLLUP_CONSUMER)
                if info.num_pending == 0 and info.num_ack_pending == 0:
                    return time.monotonic() - started
            except Exception:
                pass
            await asyncio.sleep(0.5)
    finally:
        await nc.close()
    raise SystemExit("the roll-up did not catch up")


def sequential(url: str, headers: dict[str, str], n: int) -> tuple[float, float, float]:
    """The first call (computed after the last batch), then p50/p99 of n calls; ms."""
    with httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        r = client.get(url, headers=headers)
        r.raise_for_status()
        first = time.perf_counter() - started
        times = []
        for _ in range(n):
            started = time.perf_counter()
            client.get(url, headers=headers).raise_for_status()
            times.append(time.perf_counter() - started)
    times.sort()
    return first * 1000, times[len(times) // 2] * 1000, times[int(0.99 * len(times))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--pg", help="PostgreSQL URL (a fresh schema is used); default SQLite")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    token = issue_token(SECRET, Role.viewer, subject="bench", ttl_seconds=86400)
    auth = {"Authorization": f"Bearer {token}"}
    kind = "PostgreSQL" if args.pg else "SQLite"
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp) / "nats").start()
        url, drop = replay_bench._database(args.pg, Path(tmp))
        settings = replay_bench.bench_settings(server.url)
        env = {
            "PLANTRACK_ENV": "test",
            "PLANTRACK_SECRET": SECRET,
            "PLANTRACK_NATS_URL": server.url,
            "PLANTRACK_SUBJECT_PREFIX": settings.subject_prefix,
            "PLANTRACK_STREAM": settings.stream,
            "PLANTRACK_LIVE_STREAM": settings.live_stream,
            "PLANTRACK_EVENTS_DATABASE_URL": url,
            "PLANTRACK_DATA_DIR": str(Path(tmp) / "data"),
            "PLANTRACK_TODAY": TODAY,
            "PLANTRACK_RATE_LIMIT_PER_MINUTE": str(10**9),
        }
        procs = []
        try:
            service, base = uvicorn("services.events.app:create_app", env)
            procs.append(service)
            events = chain.from_iterable(replay_bench.event_chunks(sizes[-1]))
            sent = 0
            growth = []
            for size in sizes:
                sent = asyncio.run(fill(settings, events, size, sent))
                waited = asyncio.run(drained(settings))
                print(f"{size:>9,} events, applied {waited:.0f} s after the last was published")
                for path in ("/api/v1/targets", DETAIL):
                    first, p50, p99 = sequential(base + path, auth, 300)
                    growth.append((size, path, first, p50, p99))
                    print(
                        f"  GET {path}: first {first:.1f} ms (computed), then p50 {p50:.2f} ms, "
                        f"p99 {p99:.2f} ms (one client)",
                        flush=True,
                    )
            body = httpx.get(base + "/api/v1/targets", headers=auth, timeout=600).content
            detail = httpx.get(base + DETAIL, headers=auth, timeout=600).content
            (Path(tmp) / "bare.json").write_bytes(body)
            (Path(tmp) / "detail.json").write_bytes(detail)
            bare, bare_base = uvicorn(
                "targets:bare_app",
                {
                    "BENCH_BARE_BODY": str(Path(tmp) / "bare.json"),
                    "BENCH_BARE_DETAIL": str(Path(tmp) / "detail.json"),
                },
            )
            procs.append(bare)
            figures = asyncio.run(measure(args, base, bare_base, auth))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
            server.kill()
            drop()
    report(args, kind, sent, (len(body), len(detail)), growth, figures)


async def measure(args, base: str, bare: str, auth: dict[str, str]) -> dict:
    runs: dict[str, list[dict]] = {"bare": [], "list": [], "bare detail": [], "detail": []}
    for name, url, path, headers in [
        ("bare", bare, "/bare", {}),
        ("list", base, "/api/v1/targets", auth),
        ("bare detail", bare, "/bare/detail", {}),
        ("detail", base, DETAIL, auth),
    ] * 2:
        await hammer(url, path, headers, args.clients, 1.0)  # warm-up
        runs[name].append(await hammer(url, path, headers, args.clients, args.seconds))
    return {name: summarise(r) for name, r in runs.items()}


def report(args, kind: str, events: int, sizes: tuple, growth: list, figures: dict) -> None:
    print(f"\n{kind}, {events:,} events; {args.clients} clients, {args.seconds:g} s x 2 runs each")
    print(f"{'endpoint':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, key in (
        (f"bare FastAPI, same {sizes[0]:,} bytes", "bare"),
        ("GET /api/v1/targets", "list"),
        (f"bare FastAPI, same {sizes[1]:,} bytes", "bare detail"),
        (f"GET {DETAIL}", "detail"),
    ):
        f = figures[key]
        print(f"{label:<34}{f['rps']:>9.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}{f['errors']:>8}")
    last = max(g[0] for g in growth)
    for key, path in (("list", "/api/v1/targets"), ("detail", DETAIL)):
        f, b = figures[key], figures["bare" if key == "list" else "bare detail"]
        _, _, _, p50, p99 = next(g for g in growth if g[0] == last and g[1] == path)
        print(
            f"{key}: x{f['rps'] / b['rps']:.2f} bare req/s at {args.clients} clients "
            f"(goal >= 0.5); one client p50 {p50:.2f} ms (goal < 10), p99 {p99:.2f} ms (goal < 50)"
        )
    for path in ("/api/v1/targets", DETAIL):
        line = ", ".join(f"{s:,}: p50 {p:.2f} ms" for s, q, _, p, _ in growth if q == path)
        print(f"cost growth, one client, GET {path}: {line}")


if __name__ == "__main__":
    main()
