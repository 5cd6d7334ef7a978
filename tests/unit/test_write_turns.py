"""Who writes next: the changes people make go before the backlog's next batch."""

from __future__ import annotations

import threading

from services.common.inbox import LIVELY_SECONDS, WriteTurns


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


def test_no_batch_begins_while_urgent_work_is_under_way() -> None:
    """The live lane holds `priority()` from applying its events until their targets are
    announced: a backlog batch waits the whole time, not only for the lane's transaction."""
    turns = WriteTurns(single_writer=False)
    order: list[str] = []
    started = threading.Event()

    def batch() -> None:
        started.set()
        with turns.turn():
            order.append("batch begins")

    with turns.priority():
        with turns.turn(urgent=True):  # on PostgreSQL it does not wait for batches
            order.append("urgent transaction")
        waiting = threading.Thread(target=batch)
        waiting.start()
        started.wait(10)
        waiting.join(0.2)
        assert waiting.is_alive(), "a batch began while urgent work was under way"
        order.append("targets announced")
    waiting.join(10)
    assert order == ["urgent transaction", "targets announced", "batch begins"]


def test_the_turns_are_lively_for_a_while_after_urgent_work() -> None:
    turns = WriteTurns()
    assert not turns.lively()  # a backlog alone: whole batches
    with turns.turn():
        pass
    assert not turns.lively()
    with turns.priority():
        pass
    assert turns.lively()
    turns.urgent_at -= LIVELY_SECONDS
    assert not turns.lively()
