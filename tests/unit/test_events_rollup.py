"""Folding events into facts: the highest version wins whatever the order, malformed events are
skipped, and a batch names the targets it may have moved."""

from __future__ import annotations

import random
from datetime import date

from services.events.consumer import touched
from services.events.rollup import HANDLERS, Facts, rows_for
from services.events.targets import load_catalogue
from tests.integration import rollup_kit as kit


def fold(events) -> Facts:
    facts = Facts()
    for event in events:
        facts.add(event.type, event.payload)
    return facts


def snapshot_rows(facts: Facts) -> dict:
    return {table.name: rows for table, rows in rows_for(facts, generation=1)}


def history() -> kit.World:
    world = kit.World()
    pid = world.project("school", date(2024, 1, 5))
    world.move(pid, "starting", date(2024, 3, 1))
    world.move(pid, "built", date(2025, 2, 1))
    firm = world.enterprise(date(2023, 1, 1))
    did = world.grant(firm, "high_tech", date(2023, 6, 1))
    world.revoke(did, date(2024, 6, 1))
    world.milestone(pid, date(2024, 2, 1))
    return world


def test_the_highest_version_wins_in_any_order_and_with_duplicates():
    events = history().events
    expected = snapshot_rows(fold(events))
    for seed in range(5):
        shuffled = events + events[::2]
        random.Random(seed).shuffle(shuffled)
        assert snapshot_rows(fold(shuffled)) == expected
    stages = expected["fact_project_stage"]
    assert [(r["stage"], r["entered_on"], r["version"]) for r in stages] == [
        ("reserve", "2024-01-05", 3),
        ("starting", "2024-03-01", 3),
        ("built", "2025-02-01", 3),
    ]
    assert expected["fact_designation"][0]["revoked_on"] == "2024-06-01"


def test_a_malformed_event_is_skipped_not_fatal():
    facts = fold(history().events)
    facts.add("ProjectStageChanged", {"project": {"id": "x"}})
    facts.add("DesignationGranted", {"enterprise": {}})
    facts.add(
        "ProjectUpdated",
        {"project": {"id": 99, "version": 1, "category": "road", "stage": "reserve"}},
    )  # no stage history
    assert facts.skipped == 3
    assert len(facts.projects) == 1


def test_events_that_move_no_target_have_no_handler():
    assert {"MilestoneAdded", "InvestmentReported", "BlockerRaised"}.isdisjoint(HANDLERS)
    assert {"ProjectStageChanged", "DesignationExpired", "TargetReported"} <= set(HANDLERS)


def test_a_batch_names_the_targets_it_may_have_moved():
    targets = load_catalogue()
    moved = touched(targets, fold(history().events))
    assert {"schools", "high_tech_enterprises"} <= moved
    assert "hospitals" not in moved and "tech_smes" not in moved
    world = kit.World()
    pid = world.project("road", date(2024, 1, 1))
    world.update_project(pid, date(2024, 2, 1), category="school")
    assert {"roads", "schools"} <= touched(targets, fold(world.events[1:]))
    reported = Facts()
    reported.add("TargetReported", {"target_id": "gdp_2023", "report": {}})
    assert touched(targets, reported) == {"gdp_2023"}
