"""`plantrack up --demo`: a realistic demo data set, loaded through the public API."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx

from services import demo_data as d
from services.common.contracts.calendar import business_date
from services.common.contracts.stages import STAGE_ORDER, UNDER_WAY_STAGES
from services.enterprises.uscc import check_character

SEED = 370602
WORKERS = 6
PLAN_START = date(2023, 1, 1)
STAGE_WEIGHTS = {"built": 35, "building": 30, "starting": 10, "reserve": 25}
NEXT = dict(zip(STAGE_ORDER, STAGE_ORDER[1:], strict=False))
GAPS = {"starting": (40, 200), "building": (20, 60), "built": (240, 520)}  # days
DEPARTMENT_CODES = (47, 48, 54, 89)


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _name(rng: random.Random, kind: d.Kind, n: int) -> str:
    return rng.choice(kind.names).format(
        place=rng.choice(d.PLACES),
        road=rng.choice(d.ROAD_NAMES),
        river=rng.choice(d.RIVERS),
        n=n,
    )


def _stages(rng: random.Random, created: date, today: date) -> list[tuple[str, date]]:
    """The transitions a project has made by today, each some weeks or months after the last."""
    goal = rng.choices(list(STAGE_WEIGHTS), weights=list(STAGE_WEIGHTS.values()))[0]
    out, on, stage = [], created, "reserve"
    while stage != goal:
        stage = NEXT[stage]
        on += timedelta(days=rng.randint(*GAPS[stage]))
        if on > today:
            break
        out.append((stage, on))
    return out


def plan_project(rng: random.Random, kind: d.Kind, n: int, today: date, codes: set[str]) -> dict:
    """One project: what to register, then its transitions, milestones, money and problems."""
    created = _day(rng, PLAN_START, min(today, date(2024, 12, 31)))
    transitions = _stages(rng, created, today)
    stage = transitions[-1][0] if transitions else "reserve"
    start = created + timedelta(days=rng.randint(60, 240))
    body: dict[str, Any] = {
        "name": _name(rng, kind, n),
        "category": kind.category,
        "plan_clause": kind.clause,
        "level": rng.choice(("district", "district", "city", "province")),
        "sub_district": rng.choice(d.SUB_DISTRICTS),
        "lead_department": kind.department,
        "total_investment_wan": float(rng.randint(*kind.investment)),
        "planned_start": start.isoformat(),
        "planned_completion": (start + timedelta(days=rng.randint(300, 700))).isoformat(),
        "created_on": created.isoformat(),
    }
    if kind.quantity:
        body["quantity"] = round(rng.uniform(*kind.quantity), 1)
    if rng.random() < 0.7:
        code = ""
        while not code or code in codes:
            dept = rng.choice(DEPARTMENT_CODES)
            code = f"{created.year}-370602-{dept:02d}-01-{rng.randrange(10**6):06d}"
        codes.add(code)
        body["code"] = code
    return {
        "create": body,
        "transitions": [
            {"to": s, "on": on.isoformat(), "note": "演示数据"} for s, on in transitions
        ],
        "milestones": _milestones(rng, stage, today),
        "investment": _investment(rng, stage, body["total_investment_wan"], transitions, today),
        "blockers": [_blocker(rng, today)] if _held_up(rng, stage) else [],
    }


def _held_up(rng: random.Random, stage: str) -> bool:
    return stage in UNDER_WAY_STAGES and rng.random() < 0.15


def _milestones(rng: random.Random, stage: str, today: date) -> list[dict[str, Any]]:
    out = []
    for kind, title in d.MILESTONES[stage]:
        due = today + timedelta(days=rng.randint(-60, 120))
        done = due <= today and rng.random() < 0.75  # the rest are overdue: the alerts panel
        item = {"kind": kind, "title": title, "due_on": due.isoformat()}
        if done:
            item["done_on"] = (due - timedelta(days=rng.randint(0, 10))).isoformat()
        out.append(item)
    return out


def _investment(
    rng: random.Random, stage: str, total: float, transitions: list, today: date
) -> list[dict[str, Any]]:
    if stage not in ("building", "built"):
        return []
    began = dict(transitions).get("building") or today
    months = sorted({_month(_day(rng, began, today)) for _ in range(rng.randint(1, 4))})
    share = total * rng.uniform(0.3, 0.9) / len(months)
    return [{"month": m, "amount_wan": round(share, 1)} for m in months]


def _month(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def _blocker(rng: random.Random, today: date) -> dict[str, Any]:
    kind, description, department = rng.choice(d.BLOCKERS)
    due = today + timedelta(days=rng.randint(5, 45))  # raised today, so due after it
    return {
        "kind": kind,
        "description": description,
        "responsible_department": department,
        "due_on": due.isoformat(),
    }


def uscc(rng: random.Random, seen: set[str]) -> str:
    """A valid unified social credit code of a Zhifu (370602) company, unique in `seen`."""
    code = ""
    while not code or code in seen:
        org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        first17 = "91370602" + org + rng.choice("0123456789")
        code = first17 + check_character(first17)
    seen.add(code)
    return code


def plan_enterprises(rng: random.Random, today: date) -> list[dict[str, Any]]:
    """Enterprises with valid USCCs and the designations they hold."""
    count = max(n for _, n in d.DESIGNATIONS) * 2
    seen: set[str] = set()
    out = []
    for i in range(count):
        section, chain, word = rng.choice(d.INDUSTRIES)
        out.append(
            {
                "create": {
                    "uscc": uscc(rng, seen),
                    "name": f"烟台{d.COMPANY_WORDS[i % len(d.COMPANY_WORDS)]}{word}有限公司"
                    + ("" if i < len(d.COMPANY_WORDS) else f"（{d.PLACES[i % len(d.PLACES)]}）"),
                    "industry_section": section,
                    "industry_chain": chain,
                    "sub_district": rng.choice(d.SUB_DISTRICTS),
                    "size": rng.choice(d.SIZES),
                    "landed_on": _day(rng, date(2015, 1, 1), today).isoformat(),
                    "source_channel": rng.choice(d.SOURCE_CHANNELS),
                },
                "designations": [],
            }
        )
    for kind, holders in d.DESIGNATIONS:
        for e in rng.sample(out, holders):
            e["designations"].append(_designation(rng, kind, today))
    return out


def _designation(rng: random.Random, kind: str, today: date) -> dict[str, Any]:
    if kind == "tech_sme":  # entered each year, valid for that year
        granted = _day(rng, date(today.year, 1, 1), today)
    elif kind == "high_tech" and rng.random() < 0.15:
        # Three-year certificates granted almost three years ago: they lapse within 90 days.
        granted = today - timedelta(days=3 * 365 - rng.randint(5, 80))
    else:
        granted = _day(rng, date(2021, 1, 1), today)
    prefix = d.CERTIFICATE_PREFIX.get(kind, "ZF")
    body = {
        "type": kind,
        "granted_on": granted.isoformat(),
        "certificate_no": f"{prefix}{granted.year}{rng.randrange(10**6):06d}",
    }
    if kind in d.ITEM_NAMES:
        body["item_name"] = f"{rng.choice(d.ITEM_NAMES[kind])}芝罘首店"
    return body


class Loader:
    """Sends the plan through the gateway, counting what landed and what was refused."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.tally: Counter[str] = Counter()
        self.errors: list[str] = []

    def post(self, what: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        r = self.client.post(path, json=body)
        if r.status_code in (200, 201):
            self.tally[what] += 1
            return r.json()
        self.tally[f"{what} refused"] += 1
        if len(self.errors) < 5:
            self.errors.append(f"{what} {r.status_code}: {r.text[:160]}")
        return None

    def project(self, plan: dict[str, Any]) -> None:
        created = self.post("projects", "/api/v1/projects", plan["create"])
        if created is None:
            return
        base = f"/api/v1/projects/{created['id']}"
        for step in plan["transitions"]:
            self.post("transitions", f"{base}/transitions", step)
        for m in plan["milestones"]:
            self.post("milestones", f"{base}/milestones", m)
        for i in plan["investment"]:
            self.post("investment reports", f"{base}/investment", i)
        for b in plan["blockers"]:
            self.post("blockers", f"{base}/blockers", b)

    def enterprise(self, plan: dict[str, Any]) -> None:
        created = self.post("enterprises", "/api/v1/enterprises", plan["create"])
        if created is None:
            return
        for g in plan["designations"]:
            self.post("designations", f"/api/v1/enterprises/{created['id']}/designations", g)

    def reports(self, rng: random.Random, today: date) -> None:
        """A department's figure for each statistic the plan sets (the `reported` targets)."""
        r = self.client.get("/api/v1/targets")
        if r.status_code != 200:
            return
        items = r.json().get("items", []) if isinstance(r.json(), dict) else r.json()
        for t in items:
            goal, base = t.get("target_value"), t.get("baseline_value") or 0
            if t.get("source") != "reported" or not isinstance(goal, int | float):
                continue
            value = round(base + (goal - base) * rng.uniform(0.55, 1.0), 2)
            if t.get("measure") == "milestone":  # done (with the note as evidence) or not yet
                value = 1 if rng.random() < 0.5 else 0
            body = {"value": value, "period": last_period(today), "note": "演示数据：部门填报"}
            self.post("reported figures", f"/api/v1/targets/{t['id']}/reports", body)


def last_period(today: date) -> str:
    """The latest period that is over: last year once the plan has one behind it, else last
    month (a figure is reported for a period that has ended)."""
    if today.year - 1 >= PLAN_START.year:
        return str(today.year - 1)
    previous = today.replace(day=1) - timedelta(days=1)
    return _month(previous)


def load_demo(gateway_url: str, admin_token: str, *, today: date | None = None) -> str:
    """Load the demo set through the gateway (once: a ledger with projects is left alone)."""
    today = today or business_date()
    rng = random.Random(SEED)
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=60) as client:
        r = client.get("/api/v1/projects", params={"limit": 1})
        if r.status_code == 200 and r.json().get("total", 0) > 0:
            return f"the ledger already holds {r.json()['total']} projects; nothing added"
        codes: set[str] = set()
        projects = [
            plan_project(rng, k, n + 1, today, codes) for k in d.KINDS for n in range(k.count)
        ]
        enterprises = plan_enterprises(rng, today)
        loader = Loader(client)
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(loader.project, projects))
            list(pool.map(loader.enterprise, enterprises))
        loader.reports(rng, today)
    done = ", ".join(f"{n} {what}" for what, n in sorted(loader.tally.items()))
    problems = ("; first problems: " + " | ".join(loader.errors)) if loader.errors else ""
    return f"{len(d.SUB_DISTRICTS)} sub-districts: {done}{problems}"
