"""Two recomputations of a target may overlap (an urgent one beside a batched one): the one that
read the roll-up earlier never replaces the later one's view, nor announces a step back."""

from __future__ import annotations

from datetime import date

from services.events.consumer import ProgressTracker
from services.events.targets import load_catalogue
from services.events.views import Reading

TARGET = next(t for t in load_catalogue() if t.source == "projects")
DAY = date(2025, 6, 30)


class Notifier:
    def __init__(self) -> None:
        self.sent: list[float] = []

    async def progress(self, views, on) -> None:
        self.sent.extend(v["current_value"] for v in views)


def view(value: float) -> dict:
    return {
        "id": TARGET.id,
        "current_value": value,
        "progress": value / 10,
        "status": "on_track",
        "forecast": None,
        "forecast_reserve": None,
    }


def tracker(computed: list[tuple[list[dict], date, Reading]]) -> ProgressTracker:
    t = ProgressTracker(
        engine=None,  # type: ignore[arg-type]
        targets=[TARGET],
        assess=lambda *_: [],
        today=lambda: DAY,
        notifier=Notifier(),  # type: ignore[arg-type]
    )
    t._compute = lambda *_: computed.pop(0)  # type: ignore[method-assign]
    return t


async def test_an_earlier_reading_finishing_last_is_dropped() -> None:
    t = tracker(
        [
            ([view(1)], DAY, Reading(generation=1, ticks=10)),  # the baseline
            ([view(2)], DAY, Reading(generation=1, ticks=12)),  # urgent: read after the change
            ([view(1)], DAY, Reading(generation=1, ticks=11)),  # batched: read before it
        ]
    )
    for _ in range(3):
        await t.refresh()
    assert t.values[TARGET.id]["current_value"] == 2
    assert t.notifier.sent == [2]  # type: ignore[union-attr]


async def test_a_later_reading_replaces_the_view_and_announces_it() -> None:
    t = tracker(
        [
            ([view(1)], DAY, Reading(generation=1, ticks=10)),
            ([view(2)], DAY, Reading(generation=1, ticks=11)),
            ([view(3)], DAY, Reading(generation=2, ticks=0)),  # a replay's new generation
        ]
    )
    for _ in range(3):
        await t.refresh()
    assert t.values[TARGET.id]["current_value"] == 3
    assert t.notifier.sent == [2, 3]  # type: ignore[union-attr]
