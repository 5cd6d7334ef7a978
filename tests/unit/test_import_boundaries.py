"""The parts meet only through events and HTTP: imports run one way (docs/ARCHITECTURE.md).

- no service (projects, enterprises, events) imports another;
- the kernel (services/common, the contracts with it) imports no service;
- the gateway imports no service, only the kernel.
The CLI, the supervisor and the demo loader start or drive every part, so they may import any.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("projects", "enterprises", "events")


def imported(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def owner(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "gateway":
        return "gateway"
    if parts[1] == "common":
        return "kernel"
    return parts[1] if parts[1] in SERVICES else "composition"


def service_of(module: str) -> str | None:
    bits = module.split(".")
    if bits[0] == "services" and len(bits) > 1 and bits[1] in SERVICES:
        return bits[1]
    return None


def crossings() -> set[tuple[str, str]]:
    """(file, module) for every import that crosses a boundary."""
    found = set()
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "gateway").rglob("*.py")]:
        part = owner(path)
        if part == "composition":
            continue
        for module in imported(path):
            if crosses(part, module):
                found.add((str(path.relative_to(ROOT)), ".".join(module.split(".")[:3])))
    return found


def crosses(part: str, module: str) -> bool:
    """Whether `part` importing `module` crosses a boundary."""
    target = service_of(module)
    return (target is not None and target != part) or (
        part != "gateway" and module.split(".")[0] == "gateway"
    )


def test_no_part_imports_across_a_boundary() -> None:
    assert crossings() == set()


def test_the_check_sees_a_crossing() -> None:
    assert owner(ROOT / "services/events/app.py") == "events"
    assert service_of("services.projects.catalogue") == "projects"
    assert owner(ROOT / "services/common/contracts/events.py") == "kernel"
    assert crosses("gateway", "services.projects.catalogue")
    assert crosses("kernel", "services.enterprises.catalogue")
    assert crosses("events", "services.projects.stages")
    assert crosses("projects", "gateway.sections")
    assert not crosses("gateway", "services.common.contracts.stages")
    assert not crosses("projects", "services.projects.catalogue")
