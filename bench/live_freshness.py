"""Freshness while a backlog drains: a transition POSTed → its SSE stage notice and target change.

Run:  python bench/live_freshness.py [--events 1000000] [--transitions 60] [--pg postgresql://…/test]

A private nats-server's domain stream is filled with N events shaped as the services publish
them (bench/replay.py's generator: projects moving through their stages, enterprises and their
designations), then the whole system starts (supervisor), so the events service's roll-up
begins working through all N. While it does, projects of a category the backlog never holds
(public health centres, a target of its own) are registered through the gateway, and one after
another each is moved to `built` with a POST: the time from the POST until a client of
`GET /api/v1/stream` receives the project's stage notice, and until it receives the target
change that transition causes (the target's current value one higher), are the figures. Goal:
p95 < 100 ms for both, with the backlog still being applied when the last one is measured
(the bench fails otherwise: it would not have measured what it claims).

Also printed, to place a miss: POST → the stage change on the domain stream (the projects
service's outbox relayed) and POST → the notice on the live stream (the events service done);
the rest is the gateway's hop to the SSE client.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import replay as replay_bench  # noqa: E402

from services.common.auth import Role, issue_token  # noqa: E402
from services.common.natsserver import NatsServer, port_open  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.events.consumer import ROLLUP_CONSUMER  # noqa: E402
from services.supervisor import Supervisor  # noqa: E402
from tests.conftest import make_pg_schema  # noqa: E402

SECRET = "bench-secret-" + "b" * 40
TAG = "bench"
TODAY = "2025-06-30"
"""The system's business date: within the plan's window, after the backlog's history."""
CATEGORY, TARGET = "public_health_center", "public_health_service_center"
"""A category the backlog never holds, so only the measured transitions move its target."""
FIRST_BACKLOG_ID = 10_000_000
"""The backlog's entities are numbered from here, clear of the ids the services assign."""
GOAL_MS = 100.0
WAIT = 10.0
"""How long one transition's notices are waited for before it counts as missed."""
ENV = {
    "PLANTRACK_SECRET": SECRET,
    "PLANTRACK_SUBJECT_PREFIX": TAG,
    "PLANTRACK_STREAM": "BENCH",
    "PLANTRACK_LIVE_STREAM": "BENCH_LIVE",
    "PLANTRACK_ENV": "test",
    "PLANTRACK_TODAY": TODAY,
    "PLANTRACK_RATE_LIMIT_PER_MINUTE": str(10**9),
}


def free_block() -> int:
    for base in range(23_000, 60_000, 17):
        if not any(port_open(base + i) for i in range(4)):
            return base
    raise RuntimeError("no free ports")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(_pct(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


async def backlog(nats_url: str, settings: Settings) -> int:
    """Events the roll-up has still to apply (-1: its consumer is not there yet)."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(settings.stream, ROLLUP_CONSUMER)
        return info.num_pending + info.num_ack_pending
    except Exception:
        return -1
    finally:
        await nc.close()


class Watch:
    """What arrives when: SSE stage notices and target values, and the NATS hops before them."""

    def __init__(self) -> None:
        self.stage: dict[int, float] = {}  # project id → SSE stage notice received
        self.values: list[tuple[float, float]] = []  # (received, current value) of TARGET
        self.domain: dict[int, float] = {}  # the stage change on the domain stream
        self.live: dict[int, float] = {}  # its notice on the live stream
        self.sse_events = 0

    async def sse(self, response: httpx.Response) -> None:
        event: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    event[name] = value
                continue
            kind, data = event.get("event"), event.get("data")
            event = {}
            if data is None or kind not in ("project", "target"):
                continue
            self.sse_events += 1
            body = orjson.loads(data)
            now = time.perf_counter()
            if kind == "project" and body.get("category") == CATEGORY:
                self.stage.setdefault(body["id"], now)
            elif kind == "target" and body.get("id") == TARGET:
                self.values.append((now, body.get("current_value") or 0))

    async def nats(self, nats_url: str, settings: Settings) -> Any:
        nc = await nats.connect(nats_url)

        def recorder(arrived: dict[int, float]) -> Any:
            async def on_msg(msg: Any) -> None:
                payload = orjson.loads(msg.data).get("payload", {})
                project = payload.get("project") or payload
                if project.get("category") == CATEGORY:
                    arrived.setdefault(project.get("id"), time.perf_counter())

            return on_msg

        domain = f"{settings.domain_subjects}.projects.ProjectStageChanged"
        await nc.subscribe(domain, cb=recorder(self.domain))
        await nc.subscribe(f"{settings.live_subjects}.project.>", cb=recorder(self.live))
        return nc

    def value_reached(self, value: float, after: float) -> float | None:
        for at, seen in self.values:
            if at >= after and seen >= value:
                return at
        return None


async def measure(gateway: str, nats_url: str, settings: Settings, n: int) -> dict[str, Any]:
    admin = issue_token(SECRET, Role.admin, subject="bench", ttl_seconds=86400)
    viewer = issue_token(SECRET, Role.viewer, subject="bench-viewer", ttl_seconds=86400)
    writer = {"Authorization": f"Bearer {admin}"}
    watch = Watch()
    nc = await watch.nats(nats_url, settings)
    sent: dict[int, float] = {}
    target_at: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        ids = []
        for i in range(n):
            body = {"name": f"芝罘区时效测试卫生中心{i}", "category": CATEGORY}
            body["created_on"] = "2024-01-02"
            r = await client.post("/api/v1/projects", headers=writer, json=body)
            if r.status_code != 201:
                raise SystemExit(f"FAILED: registering a project: {r.status_code} {r.text}")
            ids.append(r.json()["id"])
        r = await client.get(f"/api/v1/targets/{TARGET}", headers=writer)
        start_value = r.json().get("current_value") or 0
        before = await backlog(nats_url, settings)
        headers = {"Authorization": f"Bearer {viewer}"}
        async with client.stream("GET", "/api/v1/stream", headers=headers) as stream:
            watcher = asyncio.create_task(watch.sse(stream))
            await asyncio.sleep(1.0)  # the stream's consumer is set up
            for k, pid in enumerate(ids, start=1):
                sent[pid] = time.perf_counter()
                r = await client.post(
                    f"/api/v1/projects/{pid}/transitions",
                    headers=writer,
                    json={"to": "built", "on": "2025-01-15"},
                )
                if r.status_code != 200:
                    raise SystemExit(f"FAILED: a transition: {r.status_code} {r.text}")
                deadline = sent[pid] + WAIT
                while time.perf_counter() < deadline:
                    reached = watch.value_reached(start_value + k, sent[pid])
                    if reached is not None:
                        target_at[pid] = reached
                    if pid in watch.stage and pid in target_at:
                        break
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0.05)  # transitions a moment apart, as people make them
            watcher.cancel()
        after = await backlog(nats_url, settings)
        r = await client.get(f"/api/v1/targets/{TARGET}", headers=writer)
        end_value = r.json().get("current_value")
    await nc.close()
    out: dict[str, Any] = {
        "transitions": n,
        "backlog_before": before,
        "backlog_after": after,
        "sse_events_received": watch.sse_events,
        "stage_received": len([p for p in ids if p in watch.stage]),
        "target_received": len(target_at),
        "target_value": {"before": start_value, "after": end_value},
        "target_notices": len(watch.values),
    }
    stage = [watch.stage[p] - sent[p] for p in ids if p in watch.stage]
    if stage:
        out["post_to_sse_stage"] = stats(stage)
    if target_at:
        out["post_to_sse_target"] = stats([target_at[p] - sent[p] for p in target_at])
    for name, arrived in (("post_to_domain_stream", watch.domain), ("post_to_live", watch.live)):
        got = [arrived[p] - sent[p] for p in ids if p in arrived]
        if got:
            out[name] = stats(got)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--transitions", type=int, default=60)
    ap.add_argument("--keep", action="store_true", help="keep the data dir (logs) afterwards")
    ap.add_argument(
        "--pg", help="PostgreSQL URL: the projects and events services on fresh schemas"
    )
    args = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="plantrack-fresh-"))
    server = NatsServer(store_dir=data_dir / "nats").start()
    settings = replay_bench.bench_settings(server.url)
    env, drops = dict(ENV), []
    for service in ("projects", "events") if args.pg else ():
        url, drop = make_pg_schema(args.pg)
        env[f"PLANTRACK_{service.upper()}_DATABASE_URL"] = url
        drops.append(drop)
    print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}", flush=True)
    sup = Supervisor(data_dir=data_dir, port=free_block(), nats_url=server.url, extra_env=env)
    try:
        took = asyncio.run(replay_bench.publish(settings, args.events, first_id=FIRST_BACKLOG_ID))
        print(f"domain stream: {args.events:,} events published in {took:.0f} s", flush=True)
        sup.start()
        sup.wait_ready(300)
        result = asyncio.run(measure(sup.url("gateway"), server.url, settings, args.transitions))
    finally:
        sup.stop()
        server.stop()
        for drop in drops:
            drop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    print(
        f"while the roll-up applied a backlog of {args.events:,} events "
        f"({result['backlog_before']:,} left at the first POST, {result['backlog_after']:,} "
        "after the last):"
    )
    failed = []
    for name, label in (("post_to_sse_stage", "stage notice"), ("post_to_sse_target", "target")):
        figure = result.get(name)
        if figure is None:
            failed.append(f"no {label} received")
            continue
        print(
            f"  POST → SSE {label:<13} p50 {figure['p50_ms']:>8.1f} ms  "
            f"p95 {figure['p95_ms']:>8.1f} ms  (goal p95 < {GOAL_MS:.0f} ms)"
        )
    missed = args.transitions - min(result["stage_received"], result["target_received"])
    if missed:
        failed.append(f"{missed} of {args.transitions} transitions not seen within {WAIT:.0f} s")
    if result["backlog_after"] <= 0:
        failed.append("the backlog was done before the last transition: nothing overtaken")
    if failed:
        raise SystemExit("FAILED: " + "; ".join(failed))


if __name__ == "__main__":
    main()
