"""Test kit for the events service: a small world emitting events as the services do, and the
ground truth of every counted target computed from the published snapshots in plain Python."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from nats.js import JetStreamContext

from services.common.envelope import Event
from services.common.settings import Settings
from services.events.consumer import ROLLUP_CONSUMER
from services.events.targets import Target

MAIN = ("reserve", "starting", "building", "built")

TODAY = date(2025, 6, 30)
"""The clock of the roll-up tests: mid-plan, so pace and forecast have something to say."""


@dataclass
class World:
    """Projects, enterprises and designations changing over time, each change an event."""

    events: list[Event] = field(default_factory=list)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    enterprises: dict[int, dict[str, Any]] = field(default_factory=dict)
    designations: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _emit(self, type_: str, subject: int, on: date, producer: str, payload: dict) -> Event:
        event = Event(type=type_, subject=str(subject), on=on, producer=producer, payload=payload)
        self.events.append(event)
        return event

    # projects ------------------------------------------------------------------------------

    def project(
        self,
        category: str,
        on: date,
        *,
        quantity: float | None = 1,
        unit: str | None = None,
        planned_start: date | None = None,
        planned_completion: date | None = None,
    ) -> int:
        pid = self._id()
        snap = {
            "id": pid,
            "version": 1,
            "name": f"项目{pid}",
            "category": category,
            "stage": "reserve",
            "level": "district",
            "sub_district": "向阳街道",
            "lead_department": "区发改局",
            "plan_clause": "50",
            "quantity": quantity,
            "quantity_unit": unit,
            "total_investment_wan": 1000.0,
            "planned_start": _iso(planned_start),
            "planned_completion": _iso(planned_completion),
            "code": None,
            "created_on": on.isoformat(),
            "stages": [{"stage": "reserve", "on": on.isoformat(), "ordinal": 0}],
        }
        self.projects[pid] = snap
        self._emit("ProjectRegistered", pid, on, "projects", {"project": _copy(snap)})
        return pid

    def move(self, pid: int, to: str, on: date) -> Event:
        snap = self.projects[pid]
        before = snap["stage"]
        ordinal = len(snap["stages"])
        snap["stages"].append({"stage": to, "on": on.isoformat(), "ordinal": ordinal})
        snap["stage"] = to
        snap["version"] += 1
        payload = {
            "project": _copy(snap),
            "from": before,
            "to": to,
            "ordinal": ordinal,
            "note": None,
        }
        return self._emit("ProjectStageChanged", pid, on, "projects", payload)

    def update_project(self, pid: int, on: date, **fields: Any) -> None:
        snap = self.projects[pid]
        changes = {k: [snap[k], _iso(v)] for k, v in fields.items()}
        snap.update({k: _iso(v) for k, v in fields.items()})
        snap["version"] += 1
        self._emit(
            "ProjectUpdated", pid, on, "projects", {"project": _copy(snap), "changes": changes}
        )

    def milestone(self, pid: int, on: date) -> None:
        milestone = {
            "id": self._id(),
            "kind": "start",
            "title": "开工",
            "due_on": on.isoformat(),
            "done_on": None,
            "version": 1,
        }
        self._emit(
            "MilestoneAdded", pid, on, "projects", {"project_id": pid, "milestone": milestone}
        )

    # enterprises ---------------------------------------------------------------------------

    def enterprise(
        self,
        on: date,
        *,
        landed_on: date | None = None,
        source_channel: str | None = None,
        industry_chain: str | None = None,
        industry_section: str | None = "C",
    ) -> int:
        eid = self._id()
        snap = {
            "id": eid,
            "version": 1,
            "uscc": None,
            "name": f"企业{eid}",
            "industry_section": industry_section,
            "industry_chain": industry_chain,
            "sub_district": "只楚街道",
            "size": "small",
            "landed_on": _iso(landed_on),
            "source_channel": source_channel,
        }
        self.enterprises[eid] = snap
        self._emit(
            "EnterpriseRegistered", eid, landed_on or on, "enterprises", {"enterprise": _copy(snap)}
        )
        return eid

    def grant(
        self,
        eid: int,
        type_: str,
        on: date,
        *,
        level: str = "national",
        years: int | None = 3,
        renews: int | None = None,
        item_name: str | None = None,
    ) -> int:
        did = self._id()
        expires = None if years is None else _years_after(on, years) - timedelta(days=1)
        snap = {
            "id": did,
            "version": 1,
            "enterprise_id": eid,
            "type": type_,
            "level": level,
            "granted_on": on.isoformat(),
            "expires_on": _iso(expires),
            "revoked_on": None,
            "revoke_reason": None,
            "renews_id": renews,
            "certificate_no": f"GR{did}",
            "status": "active",
            "item_name": item_name,
        }
        self.designations[did] = snap
        kind = "DesignationRenewed" if renews else "DesignationGranted"
        self._designation_event(kind, did, on)
        return did

    def revoke(self, did: int, on: date) -> None:
        snap = self.designations[did]
        snap.update(revoked_on=on.isoformat(), revoke_reason="撤销", status="revoked")
        snap["version"] += 1
        self._designation_event("DesignationRevoked", did, on)

    def expire(self, did: int) -> None:
        snap = self.designations[did]
        snap["status"] = "expired"
        snap["version"] += 1
        self._designation_event("DesignationExpired", did, date.fromisoformat(snap["expires_on"]))

    def _designation_event(self, kind: str, did: int, on: date) -> None:
        snap = self.designations[did]
        enterprise = self.enterprises[snap["enterprise_id"]]
        self._emit(
            kind,
            enterprise["id"],
            on,
            "enterprises",
            {"enterprise": _copy(enterprise), "designation": _copy(snap)},
        )


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _copy(snap: dict[str, Any]) -> dict[str, Any]:
    out = dict(snap)
    if "stages" in out:
        out["stages"] = [dict(s) for s in out["stages"]]
    return out


CATEGORIES = (
    "school", "hospital", "venue", "road", "pocket_park", "old_community", "kindergarten",
    "basic_research", "key_technology", "tech_programme",
)  # fmt: skip
PATHS = (
    (), ("starting",), ("starting", "building"), ("building", "built"),
    ("starting", "building", "built"), ("built",), ("cancelled",), ("starting", "cancelled"),
)  # fmt: skip
TYPES = (
    ("high_tech", "national", 3), ("tech_sme", "national", 1),
    ("specialised_sme", "provincial", 3), ("little_giant", "national", 3),
    ("headquarters", "district", None), ("first_store", "municipal", None),
    ("service_above_scale", "district", None), ("gazelle", "provincial", None),
    ("key_laboratory", "provincial", None), ("civilised_unit", "district", None),
)  # fmt: skip
ITEMS = {"first_store", "key_laboratory"}
HIGHER = {"district": "municipal", "municipal": "provincial", "provincial": "national"}
START = date(2022, 6, 1)


@dataclass
class _Random:
    """Random business dates between START and today."""

    rng: random.Random
    today: date

    def day(self) -> date:
        return START + timedelta(days=self.rng.randint(0, (self.today - START).days))

    def after(self, d: date, most: int = 400) -> date:
        return min(self.today, d + timedelta(days=self.rng.randint(0, most)))


def random_world(seed: int, *, projects: int, enterprises: int, today: date) -> World:
    """A plausible mix over 2022–today: every category and designation the catalogue counts."""
    r = _Random(random.Random(seed), today)
    world = World()
    for _ in range(projects):
        _random_project(world, r)
    for _ in range(enterprises):
        _random_enterprise(world, r)
    return world


def _random_project(world: World, r: _Random) -> None:
    created, rng = r.day(), r.rng
    category = rng.choice([*CATEGORIES, "river", "talent_apartment"])
    unit = {"river": "km", "talent_apartment": "套"}.get(category)
    pid = world.project(
        category,
        created,
        quantity=rng.choice([1, 2.5, 300]) if unit else 1,
        unit=unit,
        planned_start=created + timedelta(days=30),
        planned_completion=created + timedelta(days=rng.randint(100, 1100)),
    )
    on = created
    for to in rng.choice(PATHS):
        on = r.after(on)
        world.move(pid, to, on)
    if rng.random() < 0.2:
        world.update_project(pid, r.after(on, 30), category=rng.choice(CATEGORIES))
    if rng.random() < 0.2:
        world.milestone(pid, on)


def _random_enterprise(world: World, r: _Random) -> None:
    landed, rng = r.day(), r.rng
    channel = rng.choice([None, "graduate_startup", "investment_promotion"])
    eid = world.enterprise(landed, landed_on=landed, source_channel=channel)
    for type_, level, years in rng.sample(TYPES, rng.randint(0, 3)):
        granted = r.after(landed, 500)
        for n in range(rng.randint(1, 3) if type_ in ITEMS else 1):
            item = f"第{n + 1}号" if type_ in ITEMS else None
            _random_grant(world, r, eid, type_, level, years, granted, item)


def _random_grant(
    world: World,
    r: _Random,
    eid: int,
    type_: str,
    level: str,
    years: int | None,
    granted: date,
    item: str | None,
) -> None:
    """A grant, then perhaps a revocation, an expiry, a renewal or an upgrade."""
    rng = r.rng
    did = world.grant(eid, type_, granted, level=level, years=years, item_name=item)
    roll = rng.random()
    if roll < 0.15:
        world.revoke(did, r.after(granted, 300))
    elif roll < 0.3 and years:
        if date.fromisoformat(world.designations[did]["expires_on"]) <= r.today:
            world.expire(did)
    elif roll < 0.4 and years:
        later = r.after(granted, 900)
        world.grant(eid, type_, later, level=level, years=years, renews=did, item_name=item)
    elif roll < 0.55 and level in HIGHER:
        # an upgrade: renewed at the higher level, or granted anew there
        renews = did if rng.random() < 0.5 else None
        later = r.after(granted, 900)
        world.grant(
            eid, type_, later, level=HIGHER[level], years=years, renews=renews, item_name=item
        )


# --- ground truth, from the published snapshots alone --------------------------------------


def latest(events: Iterable[Event], key: str) -> dict[int, dict[str, Any]]:
    """The highest-version snapshot of each entity found under payload[key]."""
    out: dict[int, dict[str, Any]] = {}
    for event in events:
        snap = event.payload.get(key)
        if isinstance(snap, dict) and (
            snap["id"] not in out or out[snap["id"]]["version"] < snap["version"]
        ):
            out[snap["id"]] = snap
    return out


def _d(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def truth(target: Target, events: list[Event], at: date) -> float:
    """The target's value on `at`, by the documented counting rules, in plain Python."""
    window = target.window
    lo, hi = window.start, min(at, window.end)
    if target.measure == "annual":
        year = min(max(at, window.start), window.end).year
        lo, hi = max(window.start, date(year, 1, 1)), min(at, window.end, date(year, 12, 31))
    sel = target.selector
    assert sel is not None
    if target.source == "projects":
        total = 0.0
        for p in latest(events, "project").values():
            if p["category"] not in sel.categories:
                continue
            if sel.quantity_unit and p["quantity_unit"] != sel.quantity_unit:
                continue
            later = MAIN[MAIN.index(sel.stage) :]
            reached = [_d(s["on"]) for s in p["stages"] if s["stage"] in later]
            cancelled = [_d(s["on"]) for s in p["stages"] if s["stage"] == "cancelled"]
            if not reached or not lo <= min(reached) <= hi:
                continue
            if cancelled and min(cancelled) <= at:
                continue
            total += (p["quantity"] or 0) if target.measure == "sum" else 1
        return total
    companies = latest(events, "enterprise")
    if sel.landed:
        return sum(
            1
            for e in companies.values()
            if e["landed_on"]
            and lo <= _d(e["landed_on"]) <= hi
            and (sel.source_channel is None or e["source_channel"] == sel.source_channel)
        )
    holders = set()
    designations = latest(events, "designation")
    for d in designations.values():
        if d["type"] not in sel.designations or (sel.levels and d["level"] not in sel.levels):
            continue
        granted, expires, revoked = _d(d["granted_on"]), _d(d["expires_on"]), _d(d["revoked_on"])
        if revoked is not None and revoked <= at:
            continue
        holder = (d["enterprise_id"], d.get("item_name"))  # an item type counts items
        if target.measure == "stock":
            if granted <= at and (expires is None or at <= expires):
                holders.add(holder)
        elif _fresh(d, designations) and lo <= granted <= hi:
            holders.add(holder)
    return len(holders)


LEVEL_ORDER = ("national", "provincial", "municipal", "district")


def _fresh(d: dict[str, Any], designations: dict[int, dict[str, Any]]) -> bool:
    """New: a first grant, or a renewal at a higher level than what it renews (an upgrade)."""
    if d["renews_id"] is None:
        return True
    renewed = designations.get(d["renews_id"])
    return renewed is not None and (
        LEVEL_ORDER.index(d["level"]) < LEVEL_ORDER.index(renewed["level"])
    )


def _period_end(target: Target, at: date) -> date:
    if target.measure != "annual":
        return target.window.end
    year = min(max(at, target.window.start), target.window.end).year
    return min(target.window.end, date(year, 12, 31))


def _baseline(target: Target) -> float:
    return float(target.baseline_value or 0)


def truth_value(target: Target, events: list[Event], at: date) -> float:
    """The figure the API shows: the count plus the plan's baseline for new and sum targets."""
    on = min(at, target.window.end)
    offset = _baseline(target) if target.measure in ("new", "sum") else 0
    return truth(target, events, on) + offset


def truth_forecast(
    target: Target, events: list[Event], at: date
) -> tuple[float | None, float | None, float | None]:
    """(forecast, reserve, lapsing) by the documented rule, from the snapshots alone."""
    if at > target.window.end:
        return None, None, None
    end = _period_end(target, at)
    current = truth_value(target, events, at)
    sel = target.selector
    assert sel is not None
    if target.source == "projects":
        under = reserve = 0.0
        later = MAIN[MAIN.index(sel.stage) :]
        for p in latest(events, "project").values():
            if p["category"] not in sel.categories:
                continue
            if sel.quantity_unit and p["quantity_unit"] != sel.quantity_unit:
                continue
            stages = [(s["stage"], _d(s["on"])) for s in p["stages"]]
            first = min(on for _, on in stages)
            started = [on for st, on in stages if st in MAIN[1:]]
            reached = [on for st, on in stages if st in later]
            cancelled = [on for st, on in stages if st == "cancelled"]
            planned = _d(p["planned_completion"] if sel.stage == "built" else p["planned_start"])
            if first > at or (cancelled and min(cancelled) <= at):
                continue
            if (reached and min(reached) <= at) or planned is None or planned > end:
                continue
            weight = (p["quantity"] or 0) if target.measure == "sum" else 1
            if started and min(started) <= at:
                under += weight
            else:
                reserve += weight
        return current + under, reserve, None
    if target.measure == "stock" and not sel.landed:
        lasting = set()
        for d in latest(events, "designation").values():
            if d["type"] not in sel.designations or (sel.levels and d["level"] not in sel.levels):
                continue
            granted, expires = _d(d["granted_on"]), _d(d["expires_on"])
            revoked = _d(d["revoked_on"])
            held = granted <= at and (expires is None or at <= expires)
            if held and (revoked is None or revoked > at) and (expires is None or expires >= end):
                lasting.add((d["enterprise_id"], d.get("item_name")))
        return len(lasting), None, current - len(lasting)
    return current, None, None


def truth_status(target: Target, events: list[Event], at: date) -> tuple[str, float | None]:
    """(status, expected_now) by the documented rules, computed apart from the service."""
    value = truth_value(target, events, at)
    floor = target.direction == "at_least"
    hit = value >= target.target_value if floor else value <= target.target_value
    if at > target.window.end:
        return ("met" if hit else "missed"), None
    counted = truth_count(target, events, at)
    if target.measure == "annual":
        start, base = date(_period_end(target, at).year, 1, 1), 0.0
        start = max(start, target.window.start)
    else:
        start, base = target.window.start, _baseline(target)
    end = _period_end(target, at)
    share = min(1.0, max(0.0, ((at - start).days + 1) / ((end - start).days + 1)))
    expected = base + (target.target_value - base) * share
    if counted == 0:
        return "no_data", expected
    if hit:
        return "achieved", expected
    forecast = truth_forecast(target, events, at)[0]
    if floor:
        on_pace = value >= 0.95 * expected or (
            forecast is not None and forecast >= target.target_value
        )
        return (
            "on_track" if on_pace else "at_risk" if value >= 0.6 * expected else "behind"
        ), expected
    on_pace = 0.95 * value <= expected or (forecast is not None and forecast <= target.target_value)
    return ("on_track" if on_pace else "at_risk" if 0.6 * value <= expected else "behind"), expected


def truth_count(target: Target, events: list[Event], at: date) -> int:
    """How many projects or enterprises make the value up (a sum's projects, not its km)."""
    if target.measure != "sum":
        return int(truth(target, events, at))
    counting = target.model_copy(update={"measure": "new"})
    return int(truth(counting, events, at))


# --- publishing and waiting ------------------------------------------------------------------


async def publish(
    js: JetStreamContext,
    settings: Settings,
    events: Iterable[Event],
    *,
    msg_id: Callable[[Event], str] = lambda e: str(e.id),
) -> int:
    """Publish as the outbox relay does (`Nats-Msg-Id` = event id unless told otherwise)."""
    futures = []
    n = 0
    for event in events:
        futures.append(
            await js.publish_async(
                f"{settings.domain_subjects}.{event.subject_suffix}",
                event.to_bytes(),
                headers={"Nats-Msg-Id": msg_id(event)},
            )
        )
        n += 1
        if len(futures) >= 5000:
            await asyncio.gather(*futures)
            futures = []
    await asyncio.gather(*futures)
    return n


async def drained(
    js: JetStreamContext,
    settings: Settings,
    timeout: float = 60.0,
    durable: str = ROLLUP_CONSUMER,
) -> None:
    """Wait until the roll-up consumer has acknowledged everything in the stream."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = await js.consumer_info(settings.stream, durable)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the roll-up consumer did not catch up in time")


def shuffled(events: list[Event], seed: int = 7) -> list[Event]:
    out = list(events)
    random.Random(seed).shuffle(out)
    return out


def fresh_id(_: Event) -> str:
    return uuid.uuid4().hex
