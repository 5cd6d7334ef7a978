"""Benchmark: the dashboard overview against a bare FastAPI endpoint at 64 clients on a loaded
system, and end-to-end freshness (a transition POSTed → its SSE event received).

    python bench/gateway_load.py                       # 100k projects, 50k enterprises, 1M events
    python bench/gateway_load.py --projects 10000 --enterprises 5000 --events 100000 --seconds 5

Starts a private NATS and the whole system (supervisor) in a temporary data dir, bulk-loads
projects and enterprises through the services' import API, tops the domain stream up to the
event count with InvestmentReported events (as the projects service publishes them), then
measures both endpoints with the same load generator, one after the other, twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway_data import enterprise_csv, project_csv, top_up_events  # noqa: E402
from bench.gateway_measure import freshness, hammer, summarise  # noqa: E402
from services.common.auth import Role, issue_token  # noqa: E402
from services.common.natsserver import NatsServer, free_port, port_open  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.supervisor import Supervisor  # noqa: E402

SECRET = "bench-secret-" + "b" * 40
CHUNK = 5_000
BARE_APP = "bench.gateway_measure:bare_app"
TAG = "bench"
SETTINGS = Settings(subject_prefix=TAG, stream="BENCH", live_stream="BENCH_LIVE", secret=SECRET)
ENV = {
    "PLANTRACK_SECRET": SECRET,
    "PLANTRACK_SUBJECT_PREFIX": TAG,
    "PLANTRACK_STREAM": "BENCH",
    "PLANTRACK_LIVE_STREAM": "BENCH_LIVE",
    "PLANTRACK_ENV": "test",
    # The limiter is on the measured path; 64 clients on one token must not hit it.
    "PLANTRACK_RATE_LIMIT_PER_MINUTE": str(10**9),
    "PLANTRACK_IMPORT_JOB_MIN_ROWS": str(10**9),  # the load is imported in the requests
}


def free_block() -> int:
    for base in range(21_000, 60_000, 17):
        if not any(port_open(base + i) for i in range(4)):
            return base
    raise RuntimeError("no free ports")


def bulk_import(url: str, path: str, token: str, chunks: list[bytes], label: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    start = time.perf_counter()
    with httpx.Client(timeout=600) as client:
        for i, content in enumerate(chunks):
            files = {"file": (f"{label}-{i}.csv", content, "text/csv")}
            r = client.post(url + path, files=files, headers=headers)
            if r.status_code >= 300:
                raise SystemExit(f"{label} import failed: {r.status_code} {r.text[:500]}")
    print(f"loaded {label}: {time.perf_counter() - start:.1f} s", flush=True)


def start_bare(payload: bytes, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The bare endpoint: the same JSON from a plain FastAPI handler, under the same uvicorn."""
    path = data_dir / "bare.json"
    path.write_bytes(payload)
    port = free_port()
    env = {**os.environ, "BENCH_BARE_JSON": str(path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            BARE_APP,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "5",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not port_open(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the bare endpoint did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


async def wait_consumed(nats_url: str, settings: Settings, limit: float) -> int:
    """Wait for the events service to drain its backlog, so it does not share the CPU with the
    measurement; returns what is still pending (-1: no roll-up consumer yet). A limit of 0
    only looks."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    deadline = time.monotonic() + limit
    try:
        while True:
            try:
                info = await js.consumer_info(settings.stream, "events-rollup")
            except Exception:
                return -1
            pending = info.num_pending + info.num_ack_pending
            if pending == 0 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(2)
    finally:
        await nc.close()
    return pending


async def measure(args: argparse.Namespace, gateway: str, bare: str, token: str) -> dict:
    auth = {"Authorization": f"Bearer {token}"}
    results: dict[str, list[dict]] = {"overview": [], "bare": []}
    for name, base, path in [
        ("bare", bare, "/bare"),
        ("overview", gateway, "/api/v1/dashboard/overview"),
    ] * 2:
        await hammer(base, path, auth, args.clients, 1.0)  # warm-up
        results[name].append(await hammer(base, path, auth, args.clients, args.seconds))
    return {name: summarise(runs) for name, runs in results.items()}


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--projects", type=int, default=100_000)
    ap.add_argument("--enterprises", type=int, default=50_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--freshness", type=int, default=100, help="transitions timed end to end")
    ap.add_argument("--drain-limit", type=float, default=900.0, help="max wait for roll-ups (s)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir (logs) afterwards")
    return ap.parse_args()


def load(args: argparse.Namespace, sup: Supervisor, nats_url: str, admin: str) -> int:
    """Projects, enterprises and the event stream up to size; returns the events in the stream."""
    imports = [
        ("projects", "/api/v1/projects/import", project_csv(args.projects, CHUNK)),
        ("enterprises", "/api/v1/enterprises/import", enterprise_csv(args.enterprises, CHUNK)),
    ]
    for service, path, chunks in imports:
        bulk_import(sup.url(service), path, admin, list(chunks), service)
    in_stream = asyncio.run(top_up_events(nats_url, SETTINGS, args.events, args.projects))
    print(f"domain stream: {in_stream} events", flush=True)
    backlog = asyncio.run(wait_consumed(nats_url, SETTINGS, 0))
    if args.freshness and backlog > 0:
        viewer = issue_token(SECRET, Role.viewer, subject="bench-viewer", ttl_seconds=86400)
        fresh = asyncio.run(
            freshness(sup.url("gateway"), admin, viewer, 20, nats_url, SETTINGS.subject_prefix)
        )
        left = asyncio.run(wait_consumed(nats_url, SETTINGS, 0))
        print(
            f"freshness while the roll-up works through its backlog ({backlog} events to apply "
            f"before, {left} after): " + json.dumps(fresh),
            flush=True,
        )
    pending = asyncio.run(wait_consumed(nats_url, SETTINGS, args.drain_limit))
    print(f"roll-up backlog at measurement: {pending}", flush=True)
    return in_stream


def main() -> None:
    args = arguments()
    data_dir = Path(tempfile.mkdtemp(prefix="plantrack-bench-"))
    server = NatsServer(store_dir=data_dir / "nats").start()
    sup = Supervisor(data_dir=data_dir, port=free_block(), nats_url=server.url, extra_env=ENV)
    bare_proc = None
    try:
        sup.start()
        sup.wait_ready(120)
        admin = issue_token(SECRET, Role.admin, subject="bench", ttl_seconds=86400)
        viewer = issue_token(SECRET, Role.viewer, subject="bench-viewer", ttl_seconds=86400)
        in_stream = load(args, sup, server.url, admin)
        gateway = sup.url("gateway")
        overview = httpx.get(
            gateway + "/api/v1/dashboard/overview",
            headers={"Authorization": f"Bearer {viewer}"},
            timeout=60,
        )
        degraded = overview.json()["degraded"]
        print(f"overview: {len(overview.content)} bytes, degraded={degraded}", flush=True)
        if degraded:
            raise SystemExit(
                f"FAILED: the overview is degraded ({', '.join(degraded)}): a section was not "
                "built within the gateway's timeout, so its figures would measure a partial answer"
            )
        bare_proc, bare = start_bare(overview.content, data_dir)
        report(args, asyncio.run(measure(args, gateway, bare, viewer)), in_stream)
        fresh = asyncio.run(
            freshness(gateway, admin, viewer, args.freshness, server.url, SETTINGS.subject_prefix)
        )
        print("freshness (transition POSTed -> SSE event): " + json.dumps(fresh), flush=True)
    finally:
        if bare_proc is not None:
            bare_proc.terminate()
            bare_proc.wait()
        sup.stop()
        server.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def report(args: argparse.Namespace, figures: dict, events: int) -> None:
    o, b = figures["overview"], figures["bare"]
    print(
        f"\n{args.projects} projects, {args.enterprises} enterprises, {events} events in the "
        f"domain stream; {args.clients} clients, {args.seconds:g} s x 2 runs each"
    )
    print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, f in (("bare FastAPI JSON", b), ("/api/v1/dashboard/overview", o)):
        print(
            f"{name:<28}{f['rps']:>10.0f}{f['p50_ms']:>10.2f}{f['p99_ms']:>10.2f}{f['errors']:>8}"
        )
    print(
        f"overview / bare: req/s x{o['rps'] / b['rps']:.2f} (goal >= 0.8), "
        f"p99 x{o['p99_ms'] / b['p99_ms']:.2f} (goal <= 1.5)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
