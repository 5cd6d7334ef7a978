"""Every error leaves as problem+json: domain errors, bad input, database refusals or loss."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc

from services.common.errors import PROBLEM_JSON, Conflict, install_problem_handlers


class Body(BaseModel):
    name: str = Field(min_length=1)
    amount_wan: float = Field(ge=0)


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    def create(body: Body) -> dict:
        return body.model_dump()

    @app.get("/conflict")
    def conflict() -> None:
        raise Conflict("Already registered as id 7.", loc=["uscc"], extra={"id": 7})

    @app.get("/data")
    def data() -> None:
        raise sa_exc.DataError("SELECT", {}, Exception("integer out of range"))

    @app.get("/away")
    def away() -> None:
        raise sa_exc.OperationalError("SELECT", {}, Exception("terminating connection"))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    return app


async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


async def test_bad_input_names_each_field_and_reason() -> None:
    r = await call("POST", "/things", json={"name": "", "amount_wan": -1})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    assert {tuple(e["loc"]) for e in body["errors"]} == {("name",), ("amount_wan",)}
    assert all(e["msg"] for e in body["errors"])
    assert body["status"] == 422 and "name" in body["detail"]


async def test_a_domain_error_keeps_its_status_location_and_extras() -> None:
    r = await call("GET", "/conflict")
    assert r.status_code == 409
    assert r.json()["errors"] == [{"loc": ["uscc"], "msg": "Already registered as id 7."}]
    assert r.json()["id"] == 7


async def test_a_value_the_database_refuses_is_a_422_not_a_500() -> None:
    r = await call("GET", "/data")
    assert r.status_code == 422 and "out of range" in r.json()["detail"]


async def test_a_lost_database_is_a_503_with_retry_after() -> None:
    r = await call("GET", "/away")
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == PROBLEM_JSON


async def test_an_unexpected_error_hides_its_internals() -> None:
    r = await call("GET", "/boom")
    assert r.status_code == 500 and "secret internals" not in r.text


async def test_an_unknown_route_is_a_problem_too() -> None:
    r = await call("GET", "/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
