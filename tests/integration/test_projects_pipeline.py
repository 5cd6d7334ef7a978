"""The year's four batches against the rule applied to each project's own stage history.

The view is counted in the database from the dates each project's stage entries place it by
(kept when an entry is written: registration, transition, import). Here every project's
history, as GET /api/v1/projects shows it, is put through the rule written out plainly
(below), and the view must agree project by project and count by count, for several years.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from typing import Any

from services.common.contracts.categories import CATEGORY_LABELS
from services.common.contracts.stages import BATCHES, STAGE_LABELS
from services.projects.catalogue import LEVEL_LABELS
from services.projects.labels import LEDGER_HEADERS
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client, create, move

client = kit.client  # the service on SQLite and PostgreSQL, as the project office

TODAY = date.fromisoformat(kit.TODAY)
FORWARD = ("reserve", "starting", "building", "built")
ACTIVE = ("starting", "building")
FINAL = ("built", "cancelled")
MEMBER_KEYS = ("id", "planned", "actual", "planned_on", "actual_on")


def expected(project: dict[str, Any], year: int) -> dict[str, tuple[bool, Any, bool, Any]]:
    """{batch: (planned, planned_on, actual, actual_on)}: the rule of docs/API.md, one project."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    as_of = min(end, TODAY)
    entries = [(s["stage"], date.fromisoformat(s["on"])) for s in project["stages"]]
    started = active_from = active_to = built = None
    previous = None
    for i, (stage, on) in enumerate(entries):
        jumped = i > 0 and previous == "reserve" and stage in ("building", "built")
        if started is None and (stage == "starting" or jumped):
            started = on
        if active_from is None and stage in ACTIVE:
            active_from = on
        if active_from is not None and active_to is None and stage in FINAL:
            active_to = on
        if stage == "built":
            built = on
        previous = stage
    stage_on_day = None
    for stage, on in entries:
        if on <= as_of:
            stage_on_day = stage
    reserve_entry = next((on for s, on in reversed(entries) if s == "reserve"), None)

    def within(day: date | None) -> bool:
        return day is not None and start <= day <= end

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    ps, pc = day(project["planned_start"]), day(project["planned_completion"])
    plan = not (project["stage"] == "cancelled" and day(project["stages"][-1]["on"]) < start)  # type: ignore[operator]
    active = active_from is not None and active_from <= end
    active = active and (active_to is None or active_to >= start)
    return {
        "built": (plan and within(pc), pc, within(built), built),
        "building": (
            plan and ps is not None and ps <= end and (pc is None or pc >= start),
            ps,
            active,
            active_from,
        ),
        "starting": (plan and within(ps), ps, within(started), started),
        "reserve": (
            plan and day(project["created_on"]) <= end and (ps is None or ps > end),  # type: ignore[operator]
            ps,
            stage_on_day == "reserve",
            reserve_entry,
        ),
    }


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def relevant(project: dict[str, Any], year: int) -> bool:
    """Whether the project can be in the year's batches at all (the view's candidates)."""
    start, end = date(year, 1, 1).isoformat(), date(year, 12, 31).isoformat()
    gone = project["stage"] in FINAL and project["stages"][-1]["on"] < start
    return (
        (project["created_on"] <= end and not gone)
        or start <= (project["planned_start"] or "") <= end
        or start <= (project["planned_completion"] or "") <= end
    )


async def register_histories(client: Client, rng: random.Random, n: int) -> None:
    """Projects registered in each stage, moved forward (skipping, same-day moves, cancelled)."""
    for i in range(n):
        created = date(2022, 1, 1) + timedelta(days=rng.randint(0, 800))
        planned_start = created + timedelta(days=rng.randint(-60, 500))
        completion = planned_start + timedelta(days=rng.randint(0, 700))
        first = rng.choice(FORWARD)
        p = await create(
            client,
            name=f"批次项目{i}",
            created_on=created.isoformat(),
            stage=first,
            planned_start=None if i % 9 == 0 else planned_start.isoformat(),
            planned_completion=None if i % 7 == 0 else completion.isoformat(),
        )
        on = created
        later = [s for s in FORWARD if FORWARD.index(s) > FORWARD.index(first)]
        for to in rng.sample(later, rng.randint(0, len(later))) if later else []:
            if FORWARD.index(to) <= FORWARD.index(p["stage"]):
                continue
            on = min(TODAY, on + timedelta(days=rng.choice((0, 15, 90, 300))))
            r = await move(client, p["id"], to, on.isoformat())
            assert r.status_code == 200, r.text
            p = r.json()
        if p["stage"] != "built" and rng.random() < 0.25:
            on = min(TODAY, on + timedelta(days=rng.choice((0, 30, 400))))
            r = await move(client, p["id"], "cancelled", on.isoformat())
            assert r.status_code == 200, r.text


def ledger_csv(rng: random.Random, n: int) -> bytes:
    """New projects with their stage dates, in the ledger's layout (Chinese headers)."""
    out = io.StringIO()
    fields = ["name", "category", "level", "total_investment_wan", "planned_start"]
    fields += ["planned_completion", "created_on", "stage", "reserve_on", "starting_on"]
    fields += ["building_on", "built_on"]
    writer = csv.DictWriter(out, fieldnames=[LEDGER_HEADERS[f] for f in fields])
    writer.writeheader()
    for i in range(n):
        created = date(2022, 6, 1) + timedelta(days=rng.randint(0, 600))
        stage = rng.choice(FORWARD)
        planned_start = created + timedelta(days=rng.randint(0, 400))
        row = {
            "name": f"导入批次项目{i}",
            "category": CATEGORY_LABELS["school"],
            "level": LEVEL_LABELS["district"],
            "total_investment_wan": 100,
            "planned_start": planned_start.isoformat(),
            "planned_completion": (planned_start + timedelta(days=rng.randint(0, 600))).isoformat(),
            "created_on": created.isoformat(),
            "stage": STAGE_LABELS[stage],
            "reserve_on": created.isoformat(),
        }
        on = created
        for s in FORWARD[1 : FORWARD.index(stage) + 1]:
            if s == stage or rng.random() < 0.7:  # some rows skip a stage
                on = min(TODAY, on + timedelta(days=rng.choice((0, 40, 200))))
                row[f"{s}_on"] = on.isoformat()
        writer.writerow({LEDGER_HEADERS[k]: v for k, v in row.items()})
    return out.getvalue().encode("utf-8")


async def test_the_year_view_is_the_rule_applied_to_every_history(client: Client) -> None:
    rng = random.Random(17)
    await register_histories(client, rng, 40)
    r = await client.post(
        "/api/v1/projects/import",
        files={"file": ("台账.csv", ledger_csv(rng, 40), "text/csv")},
    )
    assert r.status_code == 201, r.text
    projects = (await client.get("/api/v1/projects", params={"limit": 200})).json()["items"]
    assert len(projects) == 80
    assert {p["stage"] for p in projects} == {*FORWARD, "cancelled"}

    for year in (2022, 2023, 2024, 2025):
        r = await client.get("/api/v1/pipeline", params={"year": year})
        assert r.status_code == 200, r.text
        view = {b["batch"]: b for b in r.json()["batches"]}
        counts = await client.get("/api/v1/pipeline", params={"year": year, "projects": "false"})
        for batch in BATCHES:
            members = []
            for p in projects:
                planned, planned_on, actual, actual_on = expected(p, year)[batch]
                if relevant(p, year) and (planned or actual):
                    members.append(
                        {
                            "id": p["id"],
                            "planned": planned,
                            "actual": actual,
                            "planned_on": iso(planned_on) if planned else None,
                            "actual_on": iso(actual_on) if actual else None,
                        }
                    )
            got = [{k: m[k] for k in MEMBER_KEYS} for m in view[batch]["projects"]]
            assert got == members, (year, batch)
            totals = {
                "planned": sum(m["planned"] for m in members),
                "actual": sum(m["actual"] for m in members),
                "planned_and_actual": sum(m["planned"] and m["actual"] for m in members),
            }
            assert {k: view[batch][k] for k in totals} == totals, (year, batch)
            only = next(b for b in counts.json()["batches"] if b["batch"] == batch)
            assert {k: only[k] for k in totals} == totals and only["projects"] == []
        # the years are not all alike: each has projects planned and projects actually there
        assert sum(view[b]["planned"] for b in BATCHES) > 0
        assert sum(view[b]["actual"] for b in BATCHES) > 0
