"""Measuring for the gateway benchmark: a lean keep-alive load generator, the bare endpoint,
and end-to-end freshness over the live stream."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import nats
import orjson
from fastapi import FastAPI


def bare_app() -> FastAPI:
    """A bare FastAPI JSON endpoint returning the overview's document (no auth, no cache)."""
    payload = orjson.loads(Path(os.environ["BENCH_BARE_JSON"]).read_bytes())
    app = FastAPI()

    @app.get("/bare")
    def bare() -> dict[str, Any]:
        return payload

    return app


async def _client(host: str, port: int, request: bytes, until: float, out: dict) -> None:
    """One keep-alive connection sending GETs back to back (HTTP/1.1, Content-Length bodies)."""
    reader, writer = await asyncio.open_connection(host, port)
    latencies = out["latencies"]
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                out["errors"] += 1
    finally:
        writer.close()


async def hammer(base: str, path: str, headers: dict[str, str], clients: int, seconds: float):
    """`clients` connections for `seconds`; returns count, req/s and latencies."""
    url = urlsplit(base)
    lines = [f"GET {path} HTTP/1.1", f"Host: {url.netloc}", "Accept: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    out: dict[str, Any] = {"latencies": [], "errors": 0}
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(_client(url.hostname, url.port, request, until, out) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    return {
        "count": len(out["latencies"]),
        "seconds": elapsed,
        "latencies": out["latencies"],
        "errors": out["errors"],
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(runs: list[dict]) -> dict[str, float]:
    latencies = [x for r in runs for x in r["latencies"]]
    return {
        "rps": sum(r["count"] for r in runs) / sum(r["seconds"] for r in runs),
        "p50_ms": _pct(latencies, 0.50) * 1000,
        "p99_ms": _pct(latencies, 0.99) * 1000,
        "errors": sum(r["errors"] for r in runs),
    }


async def _watch(response: httpx.Response, arrived: dict[int, float]) -> None:
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if event.get("event") == "project":
                arrived.setdefault(orjson.loads(event["data"]).get("id"), time.perf_counter())
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(_pct(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


async def _new_projects(client: httpx.AsyncClient, auth: dict[str, str], n: int) -> list[int]:
    ids = []
    for i in range(n):
        body = {"name": f"芝罘区时效测试项目{i}", "category": "road"}
        r = await client.post("/api/v1/projects", headers=auth, json=body)
        if r.status_code != 201:
            raise SystemExit(f"FAILED: a project for the freshness test: {r.status_code} {r.text}")
        ids.append(r.json()["id"])
    return ids


async def _watch_nats(
    nats_url: str, prefix: str, domain: dict[int, float], live: dict[int, float]
) -> Any:
    """When each stage change reached the domain stream (projects' outbox relayed) and its
    notice the live stream (events service done): the stages before the gateway's hop."""
    nc = await nats.connect(nats_url)

    def recorder(arrived: dict[int, float]) -> Any:
        async def on_msg(msg: Any) -> None:
            payload = orjson.loads(msg.data).get("payload", {})
            project = payload.get("project") or payload
            arrived.setdefault(project.get("id"), time.perf_counter())

        return on_msg

    await nc.subscribe(f"{prefix}.domain.projects.ProjectStageChanged", cb=recorder(domain))
    await nc.subscribe(f"{prefix}.live.project.>", cb=recorder(live))
    return nc


async def freshness(
    gateway: str, writer: str, reader: str, n: int, nats_url: str, prefix: str
) -> dict[str, Any]:
    """POST `n` transitions one after another; time each until its SSE event is received, and
    until its notice reached the live stream (the rest is the gateway's share)."""
    auth_w = {"Authorization": f"Bearer {writer}"}
    sse: dict[int, float] = {}
    live: dict[int, float] = {}
    domain: dict[int, float] = {}
    sent: dict[int, float] = {}
    nc = await _watch_nats(nats_url, prefix, domain, live)
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        ids = await _new_projects(client, auth_w, n)
        headers = {"Authorization": f"Bearer {reader}"}
        async with client.stream("GET", "/api/v1/stream", headers=headers) as stream:
            watcher = asyncio.create_task(_watch(stream, sse))
            for pid in ids:
                sent[pid] = time.perf_counter()
                body = {"to": "starting"}  # on the service's business date
                r = await client.post(
                    f"/api/v1/projects/{pid}/transitions", headers=auth_w, json=body
                )
                if r.status_code != 200:
                    raise SystemExit(f"FAILED: a transition: {r.status_code} {r.text}")
                while pid not in sse and time.perf_counter() < sent[pid] + 5.0:
                    await asyncio.sleep(0.001)
            watcher.cancel()
    await nc.close()
    got = [pid for pid in ids if pid in sse]
    out: dict[str, Any] = {"sent": n, "received": len(got)}
    if got:
        out["post_to_sse"] = _stats([sse[p] - sent[p] for p in got])
        relayed = [p for p in got if p in domain]
        if relayed:
            out["post_to_domain_stream"] = _stats([domain[p] - sent[p] for p in relayed])
        both = [p for p in got if p in live]
        if both:
            out["post_to_live_stream"] = _stats([live[p] - sent[p] for p in both])
            out["gateway_hop"] = _stats([max(0.0, sse[p] - live[p]) for p in both])
    return out
