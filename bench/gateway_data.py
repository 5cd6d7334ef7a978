"""Data for the gateway benchmark: ledgers to import, and domain events to top the stream up."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import date, timedelta

import nats

from services.common.contracts.categories import CATEGORY_LABELS
from services.common.contracts.designations import DESIGNATION_TYPES
from services.common.contracts.stages import STAGE_LABELS, STAGE_ORDER
from services.common.envelope import Event
from services.common.settings import Settings
from services.enterprises.catalogue import SIZE_LABELS
from services.enterprises.ledger import HEADERS as ENTERPRISE_HEADERS
from services.enterprises.uscc import ALPHABET, check_character
from services.projects.catalogue import LEVEL_LABELS, SUB_DISTRICTS
from services.projects.labels import LEDGER_HEADERS

CATEGORIES = [k for k in CATEGORY_LABELS if k != "other"]
DESIGNATIONS = ("high_tech", "tech_sme", "specialised_sme", "gazelle", "first_store")
TODAY = date.today()


def _csv(headers: dict[str, str], rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(headers.values()))
    writer.writeheader()
    for row in rows:
        writer.writerow({headers[k]: v for k, v in row.items() if v is not None})
    return out.getvalue().encode("utf-8")


def _project(rng: random.Random, i: int) -> dict[str, object]:
    created = date(2023, 1, 1) + timedelta(days=rng.randint(0, 700))
    stage = rng.choice(STAGE_ORDER)
    row: dict[str, object] = {
        "name": f"芝罘区压力测试项目{i:06d}",
        "category": CATEGORY_LABELS[rng.choice(CATEGORIES)],
        "level": LEVEL_LABELS["district"],
        "sub_district": rng.choice(SUB_DISTRICTS),
        "lead_department": "区发改局",
        "total_investment_wan": rng.randint(100, 50_000),
        "planned_start": (created + timedelta(days=90)).isoformat(),
        "planned_completion": (created + timedelta(days=500)).isoformat(),
        "created_on": created.isoformat(),
        "stage": STAGE_LABELS[stage],
        "reserve_on": created.isoformat(),
    }
    on = created
    for s in STAGE_ORDER[1 : STAGE_ORDER.index(stage) + 1]:
        on = min(TODAY, on + timedelta(days=rng.randint(20, 200)))
        row[f"{s}_on"] = on.isoformat()
    return row


def project_csv(total: int, chunk: int) -> Iterator[bytes]:
    """The projects ledger in the export's layout (Chinese headers), `chunk` rows a file."""
    rng = random.Random(1)
    for start in range(0, total, chunk):
        rows = [_project(rng, i) for i in range(start, min(total, start + chunk))]
        yield _csv(LEDGER_HEADERS, rows)


def bench_uscc(i: int) -> str:
    """A valid, unique USCC of a Zhifu company for each `i` (its organisation code counts up)."""
    digits = []
    for _ in range(9):
        i, r = divmod(i, len(ALPHABET))
        digits.append(ALPHABET[r])
    first17 = "91370602" + "".join(reversed(digits))
    return first17 + check_character(first17)


def enterprise_csv(total: int, chunk: int) -> Iterator[bytes]:
    """The enterprise ledger, one designation on most rows."""
    rng = random.Random(2)
    sizes = list(SIZE_LABELS.values())
    for start in range(0, total, chunk):
        rows = []
        for i in range(start, min(total, start + chunk)):
            row: dict[str, object] = {
                "uscc": bench_uscc(i + 1),
                "name": f"烟台压力测试企业{i:06d}有限公司",
                "industry_section": rng.choice("CIMF"),
                "sub_district": rng.choice(SUB_DISTRICTS),
                "size": rng.choice(sizes),
                "landed_on": (date(2015, 1, 1) + timedelta(days=rng.randint(0, 3000))).isoformat(),
                "source_channel": "招商引资",
            }
            if rng.random() < 0.8:
                kind = rng.choice(DESIGNATIONS)
                row["designation_type"] = DESIGNATION_TYPES[kind].label
                granted = date(TODAY.year, 1, 1) if kind == "tech_sme" else date(2023, 6, 1)
                row["granted_on"] = granted.isoformat()
                if DESIGNATION_TYPES[kind].items:  # counted as things: each one is named
                    row["item_name"] = f"压力测试门店{i:06d}"
            rows.append(row)
        yield _csv(ENTERPRISE_HEADERS, rows)


async def top_up_events(nats_url: str, settings: Settings, total: int, projects: int) -> int:
    """Publish InvestmentReported events until the domain stream holds `total`; returns it."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=20_000)
    info = await js.stream_info(settings.stream)
    have = info.state.messages
    subject = f"{settings.domain_subjects}.projects.InvestmentReported"
    rng = random.Random(3)
    for n in range(max(0, total - have)):
        project_id = rng.randint(1, max(1, projects))
        month = date(2024, 1 + n % 12, 1)
        event = Event(
            type="InvestmentReported",
            subject=str(project_id),
            on=month,
            producer="projects",
            payload={
                "project_id": project_id,
                "month": month.strftime("%Y-%m"),
                "amount_wan": 10.0,
                "cumulative_wan": 10.0 * (1 + n % 12),
            },
        )
        await js.publish_async(subject, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    await js.publish_async_completed()
    count = (await js.stream_info(settings.stream)).state.messages
    await nc.close()
    return count
