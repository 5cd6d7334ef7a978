"""The gateway's own problems (before or instead of a service) in Chinese and English."""

from __future__ import annotations

from typing import Any

from gateway.guard import BODY_LIMIT_BYTES
from tests.conftest import auth
from tests.unit.gateway_kit import gateway_over_stand

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def test_the_gateways_own_problems_speak_the_callers_language(
    settings_factory: Any, tokens: dict[str, str]
) -> None:
    async with gateway_over_stand(settings_factory, rate_limit_per_minute=30) as (client, stand, _):
        admin, viewer = auth(tokens["admin"]), auth(tokens["viewer"])
        cases = [
            ("GET", "/api/v1/nowhere", admin, None, 404,
             "没有此 API 路径：/api/v1/nowhere", "No API route at /api/v1/nowhere."),
            ("POST", "/api/v1/projects", viewer, b"{}", 403,
             "角色“viewer”无权 POST /api/v1/projects（需要 write_projects 权限）",
             "The role 'viewer' may not POST /api/v1/projects (needs write_projects)."),
            ("GET", "/api/v1/projects%2F..%2Fx", admin, None, 400,
             "请求路径被拒绝：路径中含有编码的斜杠或反斜杠",
             "Refused: the path holds an encoded slash or a backslash."),
            ("POST", "/api/v1/projects", admin, b"x" * (BODY_LIMIT_BYTES + 1), 413,
             f"网关接受的请求体最大为 {BODY_LIMIT_BYTES:,} 字节",
             f"The gateway accepts a request body of at most {BODY_LIMIT_BYTES:,} bytes."),
        ]  # fmt: skip
        for method, path, who, body, status, zh_detail, en_detail in cases:
            answers = {}
            for name, lang in (("zh", ZH), ("en", EN), ("default", {"Accept-Language": ""})):
                r = await client.request(method, path, headers={**who, **lang}, content=body)
                assert r.status_code == status, (path, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                answers[name] = r.json()
            zh, en = answers["zh"], answers["en"]
            assert answers["default"] == zh
            assert (zh["detail"], en["detail"]) == (zh_detail, en_detail)
            assert chinese(zh["title"]) and not chinese(en["title"])
            assert [e["msg"] for e in zh["errors"]] in ([], [zh_detail])
        await stand.stop("enterprises")
        zh = (await client.get("/api/v1/enterprises", headers={**viewer, **ZH})).json()
        en = (await client.get("/api/v1/enterprises", headers={**viewer, **EN})).json()
        assert zh["status"] == 503 and zh["service"] == "enterprises"
        assert (zh["title"], en["title"]) == ("服务暂不可用", "Service unavailable")
        assert zh["detail"] == "enterprises 服务无法连接，请稍后重试"
        assert en["detail"] == "The enterprises service is not reachable; try again shortly."


async def test_the_rate_limit_is_told_in_both_languages(
    settings_factory: Any, tokens: dict[str, str]
) -> None:
    async with gateway_over_stand(settings_factory, rate_limit_per_minute=2) as (client, _, _a):
        viewer = auth(tokens["viewer"])
        for _ in range(2):
            assert (await client.get("/api/v1/projects", headers=viewer)).status_code == 200
        zh = await client.get("/api/v1/projects", headers={**viewer, **ZH})
        en = await client.get("/api/v1/projects", headers={**viewer, **EN})
        assert zh.status_code == en.status_code == 429
        assert zh.json()["title"] == "请求过于频繁" and en.json()["title"] == "Too many requests"
        assert zh.json()["detail"].startswith("此调用方每分钟调用超过 2 次，请 ")
        assert en.json()["detail"].startswith("More than 2 calls a minute from this caller")
