"""From the services' answers to the dashboard overview's sections, in the shape the page reads."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common.contracts.categories import CATEGORY_LABELS
from services.common.contracts.designations import DESIGNATION_LABELS
from services.common.contracts.stages import BATCH_LABELS, BATCHES

STATUSES = ("achieved", "on_track", "at_risk", "behind", "no_data", "met", "missed")
TARGET_FIELDS = (
    "id",
    "clause",
    "chapter",
    "title",
    "unit",
    "measure",
    "source",
    "target_value",
    "baseline_value",
    "current_value",
    "progress",
    "expected_now",
    "forecast",
    "forecast_reserve",
    "status",
    "final",
    "sdg_ratio",
    "sdg_category",
    "after_plan",
    "deadline",
)
OVERDUE_LIMIT = 20


def _items(body: Any) -> list[dict[str, Any]]:
    """The list in a `{"items": [...]}` page, or the body itself when it is already a list."""
    if isinstance(body, dict):
        body = body.get("items", [])
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


def _count(value: Any) -> int:
    """A count given as a number or as the list of what is counted."""
    if isinstance(value, list):
        return len(value)
    return int(value) if isinstance(value, int | float) else 0


def target_item(raw: dict[str, Any]) -> dict[str, Any]:
    item = {key: raw.get(key) for key in TARGET_FIELDS}
    item["status"] = item["status"] or "no_data"
    return item


def targets_section(raw: Any) -> dict[str, Any]:
    """`{"total", "by_status", "items"}` from a summary's targets (a page or a plain list)."""
    items = [target_item(t) for t in _items(raw)]
    by_status = dict.fromkeys(STATUSES, 0)
    for item in items:
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    given = raw.get("by_status") if isinstance(raw, dict) else None
    if isinstance(given, dict):
        by_status.update({k: _count(v) for k, v in given.items()})
    total = raw.get("total") if isinstance(raw, dict) else None
    return {
        "total": total if isinstance(total, int) else len(items),
        "by_status": by_status,
        "items": items,
    }


def designations_by_type(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, dict):  # {"high_tech": 12, …}
        raw = [{"type": k, "count": v} for k, v in raw.items()]
    out = []
    for row in _items(raw):
        kind = str(row.get("type", ""))
        label = row.get("label") or DESIGNATION_LABELS.get(kind, kind)
        out.append({"type": kind, "label": label, "count": _count(row.get("count"))})
    return out


def pipeline_cells(raw: Any) -> list[dict[str, Any]]:
    out = []
    for row in _items(raw):
        category = str(row.get("category", ""))
        label = row.get("category_label") or CATEGORY_LABELS.get(category, category)
        out.append(
            {
                "stage": row.get("stage"),
                "category": category,
                "category_label": label,
                "count": _count(row.get("count")),
            }
        )
    return out


def summary(body: Any) -> dict[str, Any]:
    """The events service's targets summary → targets, designations by type, pipeline cells."""
    body = body if isinstance(body, dict) else {"targets": body}
    # The targets come as a "targets" page, or as the summary's own items/total/by_status.
    targets = body.get("targets", body if "items" in body else [])
    return {
        "targets": targets_section(targets),
        "by_type": designations_by_type(body.get("designations_by_type", [])),
        "by_stage_category": pipeline_cells(body.get("pipeline_by_stage_category", [])),
    }


def batches(body: Any) -> list[dict[str, Any]]:
    """The year's four batches, planned vs actual, in the plan's order (projects left out)."""
    rows = body.get("batches", body) if isinstance(body, dict) else body
    if isinstance(rows, dict):  # keyed by batch
        rows = [{"batch": k, **v} for k, v in rows.items() if isinstance(v, dict)]
    found = {str(r.get("batch") or r.get("stage")): r for r in _items(rows)}
    order = [b for b in BATCHES if b in found] + [b for b in found if b not in BATCHES]
    return [
        {
            "batch": key,
            "label": found[key].get("label") or BATCH_LABELS.get(key, key),
            "planned": _count(found[key].get("planned")),
            "actual": _count(found[key].get("actual")),
        }
        for key in order
    ]


def overdue_milestones(body: Any, today: date) -> list[dict[str, Any]]:
    """Milestones past due and not done, from a page of overdue projects, earliest first."""
    out = []
    for project in _items(body):
        milestones = project.get("overdue_milestones") or project.get("milestones") or []
        for m in milestones:
            due = m.get("due_on")
            if not due or m.get("done_on") or str(due) >= today.isoformat():
                continue
            out.append(
                {
                    "project_id": project.get("id", m.get("project_id")),
                    "project_name": project.get("name", m.get("project_name")),
                    "title": m.get("title"),
                    "kind": m.get("kind"),
                    "due_on": str(due),
                }
            )
    out.sort(key=lambda m: m["due_on"])
    return out[:OVERDUE_LIMIT]


def expiring_designations(body: Any) -> list[dict[str, Any]]:
    out = []
    for d in _items(body):
        enterprise = d.get("enterprise") if isinstance(d.get("enterprise"), dict) else {}
        kind = str(d.get("type", ""))
        out.append(
            {
                "enterprise_id": d.get("enterprise_id", enterprise.get("id")),
                "enterprise_name": d.get("enterprise_name", enterprise.get("name")),
                "type": kind,
                "type_label": d.get("type_label") or DESIGNATION_LABELS.get(kind, kind),
                "expires_on": d.get("expires_on"),
            }
        )
    out.sort(key=lambda d: str(d["expires_on"]))
    return out
