"""docs/api.md names exactly the routes the OpenAPI document has, in its table of endpoints."""
from __future__ import annotations

import re
from pathlib import Path

from tests.unit.api.test_openapi_document import documented

PAGE = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_the_endpoint_table_lists_exactly_the_documented_routes() -> None:
    table = PAGE.read_text().split("## Endpoints", 1)[1].split("\n## ", 1)[0]
    listed = {(method, re.sub(r"\?.*", "", path))
              for method, path in re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^` ]+)`", table, re.MULTILINE)}
    assert listed == documented()
