"""The drills' shared system: started once for the package, hurt and healed by each drill."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import pg_base_url
from tests.drills.cluster import DrillSystem, start_drill_system, stop_drill_system
from tests.drills.drill import REPORTS
from tests.drills.truth import Judge


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("drills")
        for line in REPORTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="package")
def drill_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DrillSystem]:
    """3 nats-servers (R3 streams), PostgreSQL, two replicas of every service, the gateway."""
    system = start_drill_system(tmp_path_factory.mktemp("drill"), pg_base_url())
    yield system
    stop_drill_system(system)


@pytest.fixture(scope="package")
def judge(drill_system: DrillSystem) -> Judge:
    return Judge(drill_system.dbs, drill_system.replica_urls("events"), drill_system.headers())
