"""Tokens: signed with the deployment's secret, carrying a role; expired or forged ones refused."""

from __future__ import annotations

import time

import jwt
import pytest

from services.common.auth import ALGORITHM, Permission, Role, decode_token, issue_token
from services.common.errors import Unauthorized

SECRET = "k" * 48


def test_a_token_carries_its_role_and_subject() -> None:
    principal = decode_token(SECRET, issue_token(SECRET, "project_office", subject="王科长"))
    assert principal.role is Role.project_office and principal.subject == "王科长"


def test_an_expired_token_is_refused_with_a_reason() -> None:
    token = issue_token(SECRET, Role.viewer, ttl_seconds=-10)
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(SECRET, token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(SECRET, issue_token("other" * 10, Role.admin))


def test_a_token_with_an_unknown_role_is_refused() -> None:
    now = int(time.time())
    claims = {"iss": "plantrack", "sub": "x", "role": "superuser", "iat": now, "exp": now + 60}
    with pytest.raises(Unauthorized, match="no known role"):
        decode_token(SECRET, jwt.encode(claims, SECRET, algorithm=ALGORITHM))


def test_an_unsigned_token_is_refused() -> None:
    now = int(time.time())
    claims = {"iss": "plantrack", "sub": "x", "role": "admin", "exp": now + 60}
    with pytest.raises(Unauthorized):
        decode_token(SECRET, jwt.encode(claims, None, algorithm="none"))


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.admin, set(Permission)),
        (
            Role.project_office,
            {Permission.read, Permission.write_projects, Permission.report_targets},
        ),
        (
            Role.investment_promotion,
            {Permission.read, Permission.write_enterprises, Permission.report_targets},
        ),
        (Role.viewer, {Permission.read}),
    ],
)
def test_each_role_holds_exactly_its_permissions(role: Role, allowed: set[Permission]) -> None:
    token = issue_token(SECRET, role)
    principal = decode_token(SECRET, token)
    assert {p for p in Permission if principal.can(p)} == allowed
