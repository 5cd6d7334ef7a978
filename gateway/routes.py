"""The gateway's route table: which service owns a path, and which permission a call needs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.common.auth import Permission

API_PREFIX = "/api/v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Rule:
    """Paths under `prefix` go to `service`; reads need `read`, writes need `write`."""

    prefix: str
    service: str
    write: Permission
    read: Permission = Permission.read

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


# Longest prefixes first is not needed: no prefix here is a prefix of another.
RULES: tuple[Rule, ...] = (
    Rule(f"{API_PREFIX}/projects", "projects", Permission.write_projects),
    Rule(f"{API_PREFIX}/blockers", "projects", Permission.write_projects),
    Rule(f"{API_PREFIX}/pipeline", "projects", Permission.write_projects),
    Rule(f"{API_PREFIX}/enterprises", "enterprises", Permission.write_enterprises),
    Rule(f"{API_PREFIX}/designations", "enterprises", Permission.write_enterprises),
    # The only write under /targets is a department's report of a statistic.
    Rule(f"{API_PREFIX}/targets", "events", Permission.report_targets),
    Rule(f"{API_PREFIX}/admin", "events", Permission.administer, Permission.administer),
)

# The gateway's own /api/ routes: read-only, for any authenticated role.
OWN_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", f"{API_PREFIX}/dashboard/overview"),
    ("GET", f"{API_PREFIX}/stream"),
    ("GET", f"{API_PREFIX}/me"),
)

# The gateway's account management: admins only.
ACCOUNT_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", f"{API_PREFIX}/users"),
    ("POST", f"{API_PREFIX}/users"),
    ("GET", f"{API_PREFIX}/users/someone"),
    ("PATCH", f"{API_PREFIX}/users/someone"),
    ("POST", f"{API_PREFIX}/users/someone/reset-password"),
    ("GET", f"{API_PREFIX}/api-keys"),
    ("POST", f"{API_PREFIX}/api-keys"),
    ("DELETE", f"{API_PREFIX}/api-keys/999999"),
)


# An import job (`/api/v1/jobs/{id}`) lives in the service that ran the import, named by the
# id's first letter; reading one needs the permission to import there.
JOBS_PREFIX = f"{API_PREFIX}/jobs"
JOB_RULES: dict[str, Rule] = {
    "p": Rule(JOBS_PREFIX, "projects", Permission.write_projects, Permission.write_projects),
    "e": Rule(
        JOBS_PREFIX, "enterprises", Permission.write_enterprises, Permission.write_enterprises
    ),
}


def rule_for(path: str) -> Rule | None:
    """The rule whose prefix owns `path`, or None when no service serves it."""
    if path.startswith(JOBS_PREFIX + "/"):
        job_id = path[len(JOBS_PREFIX) + 1 :]
        # Any other id is looked up among the projects service's jobs (and not found there).
        return JOB_RULES["e"] if job_id.startswith("e-") else JOB_RULES["p"]
    for rule in RULES:
        if rule.matches(path):
            return rule
    return None


def permission_for(method: str, path: str) -> Permission | None:
    """What a principal must hold to call `method path` (None: no service serves the path)."""
    rule = rule_for(path)
    if rule is None:
        return None
    return rule.read if method.upper() in SAFE_METHODS else rule.write


_PARAM = re.compile(r"\{[^}/]+\}")
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9A-HJ-NPQRTUWXY]{18})$")


class RouteTemplates:
    """Maps a concrete path to its route template, so metrics are per route, not per id."""

    def __init__(self) -> None:
        self._patterns: list[tuple[re.Pattern[str], str]] = []

    def load(self, templates: Iterable[str]) -> None:
        """Learn the templates (e.g. the services' OpenAPI paths); literal ones win over params."""
        ordered = sorted(set(templates), key=lambda t: (t.count("{"), -len(t)))
        patterns = []
        for template in ordered:
            pieces = _PARAM.split(template)
            regex = "^" + "[^/]+".join(re.escape(piece) for piece in pieces) + "$"
            patterns.append((re.compile(regex), template))
        self._patterns = patterns

    def known(self, path: str) -> str | None:
        """The template a service declares for `path`, or None: a label set that stays bounded
        whatever paths callers invent."""
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        return None

    def template(self, path: str) -> str:
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        # Not (yet) in a service's schema: collapse id-like segments to keep label counts bounded.
        parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
        return "/".join(parts)
