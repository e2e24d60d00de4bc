"""HTTP tests of the liveness route, the offline Swagger UI, the OpenAPI schema and CORS."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

ALLOWED_ORIGIN = "http://localhost:5173"


class _AssetCollector(HTMLParser):
    """Every script `src` and stylesheet/icon `href` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.assets.append(values["src"])  # type: ignore[arg-type]
        if tag == "link" and values.get("href"):
            self.assets.append(values["href"])  # type: ignore[arg-type]


async def _docs_assets(client: httpx.AsyncClient) -> tuple[str, list[str]]:
    response = await client.get("/docs")
    assert response.status_code == 200, response.text
    collector = _AssetCollector()
    collector.feed(response.text)
    return response.text, collector.assets


async def test_root_reports_online(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {"status": "online"}


async def test_root_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200
    assert response.json() == {"status": "online"}


async def test_docs_is_html_without_external_assets(client: httpx.AsyncClient) -> None:
    html, assets = await _docs_assets(client)
    assert "<html" in html.lower()
    assert any(asset.endswith(".js") for asset in assets), assets
    assert any(asset.endswith(".css") for asset in assets), assets
    external = [asset for asset in assets if re.match(r"(?i)^(https?:)?//", asset)]
    assert external == []
    # Nor any inline reference to a CDN.
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"'](https?:)?//", html)
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


async def test_docs_assets_are_served_locally(client: httpx.AsyncClient) -> None:
    _, assets = await _docs_assets(client)
    local = [asset for asset in assets if asset.startswith("/static-offline-docs/")]
    assert len(local) == len(assets) >= 2, assets
    for asset in local:
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert response.content, asset
    missing = await client.get("/static-offline-docs/does-not-exist.js")
    assert missing.status_code == 404


async def test_docs_bundle_is_swagger_ui_5(client: httpx.AsyncClient) -> None:
    _, assets = await _docs_assets(client)
    scripts = [asset for asset in assets if asset.endswith(".js")]
    assert len(scripts) == 1, scripts
    bundle = (await client.get(scripts[0])).text
    assert "SwaggerUIBundle" in bundle
    # The bundle's build info: `PACKAGE_VERSION:"5.32.6"` in swagger-ui-dist 5.x.
    versions = re.findall(r'PACKAGE_VERSION:\s*"(\d+)\.(\d+)\.(\d+)"', bundle)
    assert versions, "no PACKAGE_VERSION in the Swagger UI bundle"
    assert {major for major, _, _ in versions} == {"5"}


async def test_docs_page_points_at_local_openapi_and_oauth2_redirect(client: httpx.AsyncClient) -> None:
    html, _ = await _docs_assets(client)
    assert "/openapi.json" in html
    assert "oauth2-redirect" in html
    assert '"persistAuthorization": true' in html
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200


async def test_openapi_declares_oauth2_password_flow(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    schemes = schema["components"]["securitySchemes"]
    password_flows = [
        scheme["flows"]["password"]
        for scheme in schemes.values()
        if scheme.get("type") == "oauth2" and "password" in scheme.get("flows", {})
    ]
    assert len(password_flows) == 1, schemes
    assert password_flows[0]["tokenUrl"] == "/auth/token"
    # The token URL is a real route that takes the OAuth2 form.
    token_route = schema["paths"]["/auth/token"]["post"]
    assert "application/x-www-form-urlencoded" in token_route["requestBody"]["content"]
    # Protected routes declare that scheme; the public ones do not.
    assert schema["paths"]["/auth/me"]["get"].get("security")
    assert not schema["paths"]["/"]["get"].get("security")


async def test_cors_preflight_from_allowed_origin(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/auth/login",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "POST" in response.headers.get("access-control-allow-methods", "")
    allowed_headers = response.headers.get("access-control-allow-headers", "").lower()
    assert "authorization" in allowed_headers


async def test_cors_simple_request_from_allowed_origin_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Origin": ALLOWED_ORIGIN})
    assert response.status_code == 200
    assert response.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "retry-after" in response.headers.get("access-control-expose-headers", "").lower()


async def test_cors_preflight_from_unknown_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/auth/login",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code >= 400
    simple = await client.get("/", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


SPA_CALLS = [("GET", "/auth/me"), ("POST", "/ai/chat"), ("PATCH", "/conversations/x"), ("DELETE", "/history")]


async def test_cors_preflight_allows_every_call_the_spa_makes(client: httpx.AsyncClient) -> None:
    for method, path in SPA_CALLS:
        response = await client.options(
            path,
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert response.status_code == 200, (method, response.text)
        assert response.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN


async def test_cors_allows_no_credentials_and_only_the_methods_and_headers_the_api_uses(
    client: httpx.AsyncClient,
) -> None:
    # Bearer tokens travel in a header the SPA sets itself: cookies are never needed, so never allowed.
    simple = await client.get("/", headers={"Origin": ALLOWED_ORIGIN})
    unused_method = await client.options(
        "/auth/me", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "PUT"}
    )
    unused_header = await client.options(
        "/auth/me",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-forwarded-for",
        },
    )

    assert "access-control-allow-credentials" not in simple.headers
    assert "access-control-allow-credentials" not in unused_method.headers
    assert unused_method.status_code == 400 and "PUT" not in unused_method.headers.get(
        "access-control-allow-methods", ""
    )
    assert unused_header.status_code == 400
