"""Measuring for the gateway benchmark: a lean keep-alive load generator, the bare endpoint,
and end-to-end freshness over the live stream."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
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


async def freshness(gateway: str, writer: str, reader: str, n: int) -> dict[str, Any]:
    """POST `n` transitions one after another; time each until its SSE event is received."""
    auth_w = {"Authorization": f"Bearer {writer}"}
    today = date.today().isoformat()
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        ids = []
        for i in range(n):
            r = await client.post(
                "/api/v1/projects",
                headers=auth_w,
                json={"name": f"芝罘区时效测试项目{i}", "category": "road"},
            )
            ids.append(r.json()["id"])
        arrived: dict[int, float] = {}
        headers = {"Authorization": f"Bearer {reader}"}
        async with client.stream("GET", "/api/v1/stream", headers=headers) as stream:
            watcher = asyncio.create_task(_watch(stream, arrived))
            took = []
            for pid in ids:
                sent = time.perf_counter()
                await client.post(
                    f"/api/v1/projects/{pid}/transitions",
                    headers=auth_w,
                    json={"to": "starting", "on": today},
                )
                deadline = sent + 5.0
                while pid not in arrived and time.perf_counter() < deadline:
                    await asyncio.sleep(0.001)
                if pid in arrived:
                    took.append(arrived[pid] - sent)
            watcher.cancel()
    if not took:
        return {"received": 0, "sent": n, "note": "no live project events within 5 s each"}
    return {
        "received": len(took),
        "sent": n,
        "p50_ms": round(statistics.median(took) * 1000, 1),
        "p95_ms": round(_pct(took, 0.95) * 1000, 1),
        "max_ms": round(max(took) * 1000, 1),
    }
