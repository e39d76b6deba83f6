"""The OpenAPI document and the app agree: every route is documented, every documented path is served."""
from __future__ import annotations

from typing import Any, cast

from apsisd.api.app import make_app
from apsisd.api.routes.openapi import document
from apsisd.api.state import ApiState

METHODS = {"get", "post", "put", "patch", "delete"}


def served() -> set[tuple[str, str]]:
    app = make_app(cast(ApiState, None))
    return {(route.method, route.resource.canonical) for route in app.router.routes()
            if route.method != "HEAD" and route.resource is not None}


def documented() -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = document()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item if method in METHODS}


def test_every_route_is_documented_and_every_documented_route_is_served() -> None:
    assert served() - documented() == set(), "routes missing from apsisd/api/openapi.yaml"
    assert documented() - served() == set(), "documented routes that the app does not serve"


def test_the_document_is_valid_openapi() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(document())
    assert len(list(schema.get_all_operations())) == len(documented())
