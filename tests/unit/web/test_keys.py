"""What the API keeps on its app (its state, the pages' memo) and its middlewares leave on a request (who asked,
their session, its form token, when it began) is kept under keys this aiohttp takes without a warning: later ones
warn of plain strings, once per place, into apsisd's log (api/keys.py)."""
from __future__ import annotations

import warnings
from pathlib import Path

from tests.unit.web.site import Tcp, on_tcp


def test_the_app_built_a_signed_in_page_and_an_api_call_raise_no_warning(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        ops = await tcp.signed_in("ops")
        status, _ = await ops.get("/runs")
        assert status == 200
        status, _ = await ops.get("/api/v1/runs")
        assert status == 200

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        on_tcp(tmp_path, {"hello": "program: echo hello\n"}, test)
    said = [f"{w.category.__name__}: {w.message}" for w in caught if "apsisd" in w.filename]
    assert said == []
