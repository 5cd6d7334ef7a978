"""Drill (e): every operation of every service's OpenAPI, fuzzed with valid and invalid input.

Runs against the drills' system (two replicas, PostgreSQL, R3 streams) with an admin token: no
response may be a 5xx, and every error response must be RFC 9457 problem+json.
"""

from __future__ import annotations

import re

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup

from tests.drills.cluster import DrillSystem

pytestmark = [pytest.mark.drill, pytest.mark.pg, pytest.mark.timeout(240)]

MAX_EXAMPLES = 15
"""Per operation and service; keeps the whole drill package within its CI budget."""
FUZZED = ("projects", "enterprises", "events", "gateway")
SKIPPED_PATHS = r"/api/v1/admin/replay|/api/v1/stream"
"""A replay rebuilds every roll-up from the stream (a drill of its own, not fuzz material);
the Server-Sent Events stream never ends, so no response to check ever completes."""


@schemathesis.check
def problem_json_errors(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx/5xx is application/problem+json with the contract's fields."""
    if response.status_code < 400:
        return None
    kind = (response.headers.get("content-type") or [""])[0]
    assert kind.startswith("application/problem+json"), (
        f"{case.method} {case.formatted_path} → {response.status_code} as {kind!r}"
    )
    body = response.json()
    missing = {"type", "title", "status", "detail"} - set(body)
    assert not missing, f"problem body lacks {sorted(missing)}: {body}"
    assert body["status"] == response.status_code
    return True


def fuzz_operation(
    operation: APIOperation,
    mode: GenerationMode,
    session: requests.Session,
    headers: dict[str, str],
) -> str | None:
    """Run the operation's generated cases; the first failure's description, or None."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the raw case is reported
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        response = case.call(session=session, headers=headers, timeout=15)
        case.validate_response(response, checks=[not_a_server_error, problem_json_errors])

    try:
        run()
    except Unsatisfiable:
        return None  # nothing invalid can be said to this operation (no parameters)
    except (FailureGroup, Exception) as exc:
        return f"{operation.label} [{mode.value}]: {exc}"
    return None


@pytest.mark.parametrize("service", FUZZED)
def test_no_operation_answers_5xx_and_every_error_is_problem_json(
    service: str, drill_system: DrillSystem
) -> None:
    base = drill_system.replica_urls(service)[-1]
    raw = httpx.get(base + "/openapi.json", timeout=10).json()
    proxied: set[str] = set()
    if service == "gateway":  # its own routes only: the services' are fuzzed at the source
        for upstream in FUZZED[:-1]:
            url = drill_system.replica_urls(upstream)[0] + "/openapi.json"
            proxied |= set(httpx.get(url, timeout=10).json()["paths"])
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=base)
    headers = drill_system.headers()
    failures, fuzzed = [], 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if re.fullmatch(SKIPPED_PATHS, operation.path) or operation.path in proxied:
                continue
            fuzzed += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if (failure := fuzz_operation(operation, mode, session, headers)) is not None:
                    failures.append(failure)
    assert fuzzed > 0
    assert not failures, "\n\n".join(failures)
