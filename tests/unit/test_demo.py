"""The demo data set is realistic and valid by the domain's own rules before it is ever sent."""

from __future__ import annotations

import random
from datetime import date

from services import demo
from services import demo_data as d
from services.common.contracts.categories import CATEGORY_LABELS
from services.common.contracts.designations import DESIGNATION_TYPES
from services.enterprises.models import EnterpriseCreate
from services.enterprises.uscc import is_valid
from services.projects.catalogue import SUB_DISTRICTS
from services.projects.codes import validate_project_code
from services.projects.models import ProjectCreate

TODAY = date(2025, 6, 30)


def _projects() -> list[dict]:
    rng = random.Random(demo.SEED)
    codes: set[str] = set()
    return [demo.plan_project(rng, k, n + 1, TODAY, codes) for k in d.KINDS for n in range(k.count)]


def test_every_demo_project_is_accepted_by_the_project_schema_and_code_rules():
    projects = _projects()
    assert len(projects) == sum(k.count for k in d.KINDS)
    for p in projects:
        ProjectCreate.model_validate(p["create"])
        assert p["create"]["category"] in CATEGORY_LABELS
        assert p["create"]["sub_district"] in SUB_DISTRICTS
        if "code" in p["create"]:
            validate_project_code(p["create"]["code"])
    assert len({p["create"]["code"] for p in projects if "code" in p["create"]}) == sum(
        "code" in p["create"] for p in projects
    )


def test_demo_transitions_move_forward_on_dates_never_in_the_future():
    order = ["reserve", "starting", "building", "built"]
    stages = set()
    for p in _projects():
        previous, last = p["create"]["created_on"], 0
        for t in p["transitions"]:
            assert previous <= t["on"] <= TODAY.isoformat()
            assert order.index(t["to"]) == last + 1
            previous, last = t["on"], last + 1
        stages.add(order[last])
    assert stages == set(order)  # every batch of the pipeline has projects


def test_demo_has_overdue_milestones_for_the_alerts_panel():
    overdue = [
        m
        for p in _projects()
        for m in p["milestones"]
        if m["due_on"] < TODAY.isoformat() and "done_on" not in m
    ]
    assert overdue


def test_demo_enterprises_have_valid_usccs_and_catalogue_designations():
    enterprises = demo.plan_enterprises(random.Random(demo.SEED), TODAY)
    usccs = [e["create"]["uscc"] for e in enterprises]
    assert all(is_valid(u) and u.startswith("91370602") for u in usccs)
    assert len(set(usccs)) == len(usccs)
    for e in enterprises:
        EnterpriseCreate.model_validate(e["create"])
        assert all(g["type"] in DESIGNATION_TYPES for g in e["designations"])
    held = sum(len(e["designations"]) for e in enterprises)
    assert held == sum(n for _, n in d.DESIGNATIONS)
