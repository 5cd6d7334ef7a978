"""The aggregated OpenAPI document: the gateway's own routes plus every service's /api/ routes."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from gateway.proxy import Upstreams
from gateway.routes import API_PREFIX, RouteTemplates
from services.common.errors import DomainError
from services.common.settings import SERVICES

log = logging.getLogger("plantrack.gateway.openapi")

CACHE_SECONDS = 30.0
REF_PREFIX = "#/components/schemas/"


async def fetch_service_schemas(upstreams: Upstreams) -> dict[str, dict[str, Any]]:
    """Each reachable service's OpenAPI document (a service that is down is left out)."""

    async def one(name: str) -> tuple[str, dict[str, Any] | None]:
        try:
            r = await upstreams.send(name, "GET", "/openapi.json", timeout=3.0)
            return name, orjson.loads(r.content) if r.status_code == 200 else None
        except (DomainError, ValueError) as exc:
            log.info("openapi of %s not available: %s", name, exc)
            return name, None

    found = await asyncio.gather(*(one(n) for n in SERVICES))
    return {name: doc for name, doc in found if doc}


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v, renames) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name = ref[len(REF_PREFIX) :]
            out["$ref"] = REF_PREFIX + renames.get(name, name)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


# Either credential: a bearer token, or a person's session cookie.
CREDENTIALS: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]


def merge(own: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One document: the services' /api/ paths under their tag, schemas renamed on a clash."""
    doc = copy.deepcopy(own)
    paths = doc.setdefault("paths", {})
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for service, spec in services.items():
        theirs = spec.get("components", {}).get("schemas", {})
        renames = {
            name: f"{service}__{name}"
            for name, schema in theirs.items()
            if name in schemas and schemas[name] != schema
        }
        for name, schema in theirs.items():
            schemas[renames.get(name, name)] = _rewrite_refs(schema, renames)
        for path, item in spec.get("paths", {}).items():
            if not path.startswith(API_PREFIX + "/"):
                continue
            item = _rewrite_refs(item, renames)
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.setdefault("tags", [service])
                    operation["security"] = CREDENTIALS
            paths.setdefault(path, {}).update(item)
    doc.setdefault("components", {})["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An operations token (plantrack token) or an API key (ptk_…)",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "plantrack_session",
            "description": "Set by POST /auth/login; writes also need the X-CSRF-Token header",
        },
    }
    for path, item in paths.items():
        if path.startswith(API_PREFIX + "/"):
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.setdefault("security", CREDENTIALS)
    return doc


class Aggregate:
    """The merged document, rebuilt every CACHE_SECONDS (sooner while a service is missing)."""

    def __init__(self, app: FastAPI, upstreams: Upstreams, templates: RouteTemplates) -> None:
        self.app = app
        self.upstreams = upstreams
        self.templates = templates
        self.body: bytes | None = None
        self.until = 0.0
        self.lock = asyncio.Lock()

    async def get(self) -> bytes:
        async with self.lock:
            if self.body is None or time.monotonic() >= self.until:
                services = await fetch_service_schemas(self.upstreams)
                doc = merge(self.app.openapi(), services)
                self.templates.load(p for p in doc["paths"] if p.startswith(API_PREFIX))
                self.body = orjson.dumps(doc)
                complete = len(services) == len(SERVICES)
                self.until = time.monotonic() + (CACHE_SECONDS if complete else 2.0)
            return self.body

    async def prime(self) -> None:
        """Learn the services' route templates (for per-route metrics) once they are all up."""
        for _ in range(60):
            await self.get()
            if time.monotonic() + 3.0 < self.until:  # built complete: cached the long way
                return
            await asyncio.sleep(2.0)


router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi_json(request: Request) -> Response:
    aggregate: Aggregate = request.app.state.openapi
    return Response(await aggregate.get(), media_type="application/json")


@router.get("/docs")
def docs() -> HTMLResponse:
    # Swagger UI 5 (the first to read OpenAPI 3.1) is served from the installed
    # fastapi-offline package, not a CDN: district networks are often closed to the internet.
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="plantrack API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon.png",
    )


def mount_docs_assets(app: FastAPI) -> None:
    """Serve Swagger UI's own files at /docs-assets."""
    import fastapi_offline
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
