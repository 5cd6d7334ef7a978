"""Fault drills on a 3-node NATS cluster (R3), PostgreSQL and two replicas of every service.

Each drill writes through the services' HTTP API, injects its fault mid-traffic, then compares
the events service's targets with a ground truth computed from the producers' databases and
reports `drill <name>: writes=N faults=K lost=0 duplicated=0 recovered_in=Xs`. The drills share
one system (started once for the package); each leaves it whole again for the next.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from services.common.settings import SERVICES
from tests.drills.cluster import (
    DrillSystem,
    ack_pending,
    redeliveries,
    stream_info,
    wait_new_leader,
    wait_stream_whole,
)
from tests.drills.drill import run_drill
from tests.drills.truth import Judge

pytestmark = [pytest.mark.drill, pytest.mark.pg, pytest.mark.timeout(240)]


async def test_both_streams_are_replicated_on_all_three_nodes(drill_system: DrillSystem) -> None:
    nc = await drill_system.connect()
    try:
        leader = await wait_stream_whole(nc)
        domain = await stream_info(nc)
        live = await stream_info(nc, "PLANTRACK_LIVE")
    finally:
        await nc.close()
    assert domain.config.num_replicas == 3 and live.config.num_replicas == 3
    assert domain.cluster is not None
    assert {leader, *(p.name for p in domain.cluster.replicas or [])} == {"n0", "n1", "n2"}


async def test_killing_one_nats_node_during_1000_writes_loses_nothing(
    drill_system: DrillSystem, judge: Judge
) -> None:
    nc = await drill_system.connect()
    leader = await wait_stream_whole(nc)
    victim = next(n for n in drill_system.nodes if n.name != leader)

    async def kill_a_follower() -> int:
        victim.kill()
        return 1

    try:
        outcome = await run_drill(
            drill_system,
            judge,
            name="nats-node-killed",
            writes=1000,
            fault_at=300,
            inject=kill_a_follower,
            seed=1,
        )
        relayed = {
            s: drill_system.counted(s, "plantrack_outbox_published_total")
            for s in ("projects", "enterprises")
        }
        consumed = drill_system.counted("events", "plantrack_events_consumed_total")
        outcome.notes.update(
            killed=victim.name,
            survivors_only=not victim.running,
            relayed_per_replica=relayed,
            consumed_per_replica=consumed,
        )
        outcome.report()
        outcome.assert_nothing_lost()
        assert not victim.running, "the whole drill ran on two nodes of three"
        assert all(n > 0 for ns in [*relayed.values(), consumed] for n in ns), (
            "both replicas of every relay and of the consumer shared the work"
        )
    finally:
        if not victim.running:
            victim.start()
        await wait_stream_whole(nc)
        await nc.close()


async def test_killing_the_stream_leader_loses_nothing(
    drill_system: DrillSystem, judge: Judge
) -> None:
    nc = await drill_system.connect()
    leader = await wait_stream_whole(nc)
    victim = drill_system.node(leader)
    elected: dict[str, float | str] = {}

    async def kill_the_leader() -> int:
        victim.kill()
        killed_at = time.monotonic()

        async def election() -> None:
            elected["leader"] = await wait_new_leader(nc, leader)
            elected["seconds"] = round(time.monotonic() - killed_at, 1)

        elected["task"] = asyncio.ensure_future(election())  # type: ignore[assignment]
        return 1

    try:
        outcome = await run_drill(
            drill_system,
            judge,
            name="stream-leader-killed",
            writes=300,
            fault_at=100,
            inject=kill_the_leader,
            seed=2,
        )
        await elected.pop("task")  # type: ignore[misc]
        outcome.notes.update(
            old_leader=leader, new_leader=elected["leader"], elected_in=f"{elected['seconds']}s"
        )
        outcome.report()
        outcome.assert_nothing_lost()
        assert elected["leader"] != leader
    finally:
        if not victim.running:
            victim.start()
        await wait_stream_whole(nc)
        await nc.close()


async def test_sigkilled_events_replica_mid_batch_loses_nothing(
    drill_system: DrillSystem, judge: Judge
) -> None:
    nc = await drill_system.connect()
    await wait_stream_whole(nc)
    before = await redeliveries(nc)
    seen: dict[str, int] = {}

    async def kill_mid_batch() -> int:
        # Pin both replicas inside a batch's transaction, then kill one of them there.
        lock = await asyncio.to_thread(drill_system.dbs.lock_rollups)
        try:
            deadline = time.monotonic() + 15
            waiting = drill_system.dbs.waiting_on_locks
            while (blocked := await asyncio.to_thread(waiting, "events")) < 2:
                assert time.monotonic() < deadline, "both events replicas never took a batch"
                await asyncio.sleep(0.05)
            seen["blocked_in_batch"] = blocked
            seen["ack_pending"] = await ack_pending(nc)
            seen["pid"] = drill_system.sigkill("events", 1)
        finally:
            await asyncio.to_thread(lock.rollback)
            await asyncio.to_thread(lock.close)
        return 1

    try:
        outcome = await run_drill(
            drill_system,
            judge,
            name="events-replica-sigkilled",
            writes=300,
            fault_at=60,
            inject=kill_mid_batch,
            seed=3,
        )
        outcome.notes.update(
            replicas_in_batch_at_kill=seen["blocked_in_batch"],
            ack_pending_at_kill=seen["ack_pending"],
            redelivered=await redeliveries(nc) - before,
        )
        outcome.report()
        outcome.assert_nothing_lost()
        assert outcome.notes["redelivered"], "the killed replica's batch was delivered again"
    finally:
        if "events-1" not in drill_system.sup.procs:
            drill_system.restart("events", 1)
        await asyncio.to_thread(drill_system.wait_replicas_ready)
        await nc.close()


async def test_terminated_postgresql_sessions_recover_without_restart(
    drill_system: DrillSystem, judge: Judge
) -> None:
    pids = {k: p.pid for k, p in drill_system.sup.procs.items()}
    rounds: list[int] = []

    async def terminate_sessions() -> int:
        for _ in range(3):
            rounds.append(await asyncio.to_thread(drill_system.dbs.terminate_services))
            await asyncio.sleep(0.7)
        return sum(rounds)

    outcome = await run_drill(
        drill_system,
        judge,
        name="postgres-sessions-terminated",
        writes=300,
        fault_at=80,
        inject=terminate_sessions,
        seed=4,
    )
    outcome.notes.update(sessions_terminated_per_round=rounds)
    outcome.report()
    outcome.assert_nothing_lost()
    assert all(rounds), "every round found sessions of the services to terminate"
    assert {k: p.pid for k, p in drill_system.sup.procs.items()} == pids, "nothing restarted"
    async with httpx.AsyncClient(timeout=5) as client:
        for service in SERVICES:
            for url in drill_system.replica_urls(service):
                r = await client.get(url + "/readyz")
                assert r.status_code == 200, (url, r.text)
                assert r.json()["checks"]["database"]["ready"] is True
