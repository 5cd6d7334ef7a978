"""On a one-writer database, an urgent transaction goes before the backlog's next batch."""

from __future__ import annotations

import threading

from services.common.inbox import WriteTurns


def test_an_urgent_writer_waits_for_the_batch_being_written_then_goes_before_the_next() -> None:
    turns = WriteTurns()
    order: list[str] = []
    writing = threading.Event()
    release = threading.Event()

    def batch(name: str, hold: threading.Event | None = None) -> None:
        with turns.turn():
            order.append(f"{name} begins")
            if hold is not None:
                writing.set()
                hold.wait(10)
            order.append(f"{name} commits")

    def urgent() -> None:
        with turns.turn(urgent=True):
            order.append("urgent begins")
            order.append("urgent commits")

    first = threading.Thread(target=batch, args=("batch 1", release))
    first.start()
    writing.wait(10)
    quick = threading.Thread(target=urgent)
    quick.start()
    while turns._urgent == 0:  # the urgent writer is waiting for its turn
        threading.Event().wait(0.001)
    second = threading.Thread(target=batch, args=("batch 2",))
    second.start()
    release.set()
    for t in (first, quick, second):
        t.join(10)
    assert order == [
        "batch 1 begins",
        "batch 1 commits",
        "urgent begins",
        "urgent commits",
        "batch 2 begins",
        "batch 2 commits",
    ]


def test_batches_alone_take_turns_as_they_come() -> None:
    turns = WriteTurns()
    order = []
    for name in ("a", "b"):
        with turns.turn():
            order.append(name)
    with turns.turn(urgent=True):
        order.append("u")
    with turns.turn():
        order.append("c")
    assert order == ["a", "b", "u", "c"]
