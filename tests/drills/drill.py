"""One drill: traffic through the API, a fault at a chosen write, recovery timed, truth compared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.common.settings import SERVICES
from tests.drills.cluster import DrillSystem
from tests.drills.traffic import RETRY_FOR, Traffic, TrafficStats
from tests.drills.truth import Judge, Verdict

REPORTS: list[str] = []
"""Every drill's report lines, printed again in the session's terminal summary."""


@dataclass
class Outcome:
    name: str
    stats: TrafficStats
    verdict: Verdict
    faults: int
    recovered_in: float
    settled_after_traffic: float
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def line(self) -> str:
        return (
            f"drill {self.name}: writes={self.stats.acked} faults={self.faults} "
            f"lost={self.verdict.lost} duplicated={self.verdict.duplicated} "
            f"recovered_in={self.recovered_in:.1f}s"
        )

    @property
    def detail(self) -> str:
        s = self.stats
        extra = " ".join(f"{k}={v}" for k, v in self.notes.items())
        first = self.verdict.checks[0].at if self.verdict.checks else None
        truth = ",".join(
            f"{c.target}:{c.truth_value:g}" for c in self.verdict.checks if c.at == first
        )
        return (
            f"drill {self.name} detail: events={self.verdict.events} traffic={s.seconds:.1f}s "
            f"retried={s.retried} http_5xx={s.server_errors} (problem+json {s.problem_json_5xx})"
            f" transport_errors={s.transport_errors}"
            f" resolved_after_retry={s.resolved_after_retry}"
            f" settled_after_traffic={self.settled_after_traffic:.1f}s"
            f" truth_on_{first}[{truth}] {extra}".rstrip()
        )

    def report(self) -> None:
        REPORTS.extend([self.line, self.detail])
        print(self.line)
        print(self.detail)

    def assert_nothing_lost(self) -> None:
        assert self.verdict.settled, f"{self.line}: {self.verdict.describe()}"
        assert self.verdict.lost == 0 and self.verdict.duplicated == 0, self.line
        assert self.stats.acked > 0


def traffic_for(system: DrillSystem, name: str, writes: int, seed: int) -> Traffic:
    return Traffic(
        urls={s: system.replica_urls(s) for s in SERVICES if s != "events"},
        headers=system.headers(),
        planned=writes,
        seed=seed,
        tag=name,
    )


async def _recovered(judge: Judge, traffic: Traffic, done: asyncio.Task, t0: float) -> float:
    """Seconds from the fault until every event committed up to a write *begun* after the fault
    has been applied by the events service (in-flight work redelivered, new work flowing)."""
    begun_after = traffic.stats.acked + traffic.workers + 1
    waiter = asyncio.ensure_future(traffic.reached(begun_after))
    await asyncio.wait({waiter, done}, return_when=asyncio.FIRST_COMPLETED, timeout=RETRY_FOR)
    waiter.cancel()
    marks = await asyncio.to_thread(judge.marks)
    deadline = time.monotonic() + 120
    while await asyncio.to_thread(judge.behind, marks):
        if time.monotonic() > deadline:
            raise AssertionError(f"events up to {marks} not applied within 120s of the fault")
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


async def run_drill(
    system: DrillSystem,
    judge: Judge,
    *,
    name: str,
    writes: int,
    fault_at: int,
    inject: Callable[[], Awaitable[int]],
    seed: int,
) -> Outcome:
    """Run `writes` writes, call `inject` after `fault_at` of them, then compare with the truth.

    `inject` hurts the system and returns how many faults it injected; the recovery clock
    starts when it returns.
    """
    traffic = traffic_for(system, name, writes, seed)
    done = asyncio.ensure_future(traffic.run())
    reached = asyncio.ensure_future(traffic.reached(fault_at))
    await asyncio.wait({reached, done}, return_when=asyncio.FIRST_COMPLETED)
    if done.done():
        reached.cancel()
        done.result()  # the traffic failed before the fault: raise its error
        raise AssertionError(f"the traffic ended before write {fault_at}")
    faults = await inject()
    t0 = time.monotonic()
    recovery = asyncio.ensure_future(_recovered(judge, traffic, done, t0))
    try:
        stats = await done
    except BaseException:
        recovery.cancel()
        raise
    ended = time.monotonic()
    recovered_in = await recovery
    verdict = await judge.settle(stats)
    return Outcome(
        name=name,
        stats=stats,
        verdict=verdict,
        faults=faults,
        recovered_in=recovered_in,
        settled_after_traffic=time.monotonic() - ended,
    )
