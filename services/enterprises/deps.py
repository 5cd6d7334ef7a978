"""Dependencies the enterprise routes share: settings, business date, the loaded enterprise."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from services.common.auth import EnterpriseWriter, Reader
from services.common.contracts.designations import DESIGNATION_LABELS
from services.common.days import Day
from services.common.errors import Invalid
from services.common.i18n import code_of
from services.common.runtime import SessionDep
from services.common.settings import Settings
from services.enterprises import catalogue, service
from services.enterprises.labels import MESSAGES
from services.enterprises.models import Enterprise


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def load_enterprise(enterprise_id: int, session: SessionDep, _: Reader) -> Enterprise:
    """The enterprise of the path, or 404 (after the caller is authenticated)."""
    return service.get(session, enterprise_id=enterprise_id)


EnterpriseDep = Annotated[Enterprise, Depends(load_enterprise)]


def writable_enterprise(principal: EnterpriseWriter, enterprise: EnterpriseDep) -> Enterprise:
    """The enterprise of the path, for a writer whose sub-district scope holds it (else 403)."""
    principal.check_scope(enterprise.sub_district)
    return enterprise


WritableEnterprise = Annotated[Enterprise, Depends(writable_enterprise)]


class EnterpriseFilters(BaseModel):
    """The list and export filters."""

    q: str | None = None
    uscc_prefix: str | None = None
    designation: list[str] | None = None
    level: list[str] | None = None
    industry_section: str | None = None
    industry_chain: str | None = None
    sub_district: str | None = None
    size: str | None = None
    on: date | None = None


def enterprise_filters(
    q: Annotated[str | None, Query(description="Name contains, or USCC starts with")] = None,
    uscc: Annotated[str | None, Query(description="USCC prefix")] = None,
    designation: Annotated[
        list[str] | None, Query(description="Holds this designation type (repeatable)")
    ] = None,
    level: Annotated[list[str] | None, Query(description="…at this level (repeatable)")] = None,
    industry_section: Annotated[str | None, Query(description="GB/T 4754 letter")] = None,
    industry_chain: str | None = None,
    sub_district: str | None = None,
    size: str | None = None,
    on: Annotated[
        Day | None, Query(description="Date the designation must hold on (default today)")
    ] = None,
) -> EnterpriseFilters:
    # the Chinese labels the API returns (高新技术企业, 区级, 大型) are accepted as the codes
    designation = [code_of(k, DESIGNATION_LABELS) for k in designation or []] or None
    level = [code_of(k, catalogue.LEVEL_LABELS) for k in level or []] or None
    size = code_of(size, catalogue.SIZE_LABELS)
    if industry_section:
        industry_section = code_of(industry_section, catalogue.INDUSTRY_SECTIONS)
    for key in designation or []:
        catalogue.designation_type(key)
    for key in level or []:
        if key not in catalogue.LEVEL_LABELS:
            raise Invalid(
                MESSAGES("level.unknown", level=key, allowed=", ".join(catalogue.LEVEL_LABELS)),
                loc=["query", "level"],
            )
    return EnterpriseFilters(
        q=q,
        uscc_prefix=uscc,
        designation=designation,
        level=level,
        industry_section=industry_section.upper() if industry_section else None,
        industry_chain=industry_chain,
        sub_district=sub_district,
        size=size,
        on=on,
    )


FiltersDep = Annotated[EnterpriseFilters, Depends(enterprise_filters)]
