"""The API docs page works on a closed network: Swagger UI's files come from the gateway itself."""

from __future__ import annotations

import re

import httpx

from gateway.app import create_app
from services.common.settings import Settings


async def test_docs_page_and_its_assets_are_served_locally(tmp_path) -> None:
    app = create_app(Settings(env="test", data_dir=tmp_path, secret="d" * 40))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert urls and not [u for u in urls if u.startswith("http")], urls
        for url in urls:
            asset = await client.get(url)
            assert asset.status_code == 200 and asset.content, url
