"""What the API's middlewares leave on a request (who asked, their session, its form token, when it began) is
kept under keys this aiohttp takes without a warning: 3.12 and later warn of plain strings, once per place, into
apsisd's log."""
from __future__ import annotations

import warnings
from pathlib import Path

from tests.unit.web.site import Tcp, on_tcp


def test_a_signed_in_page_and_an_api_call_raise_no_warning_of_aiohttp_s(tmp_path: Path) -> None:
    said: list[str] = []

    async def test(tcp: Tcp) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ops = await tcp.signed_in("ops")
            status, _ = await ops.get("/runs")
            assert status == 200
            status, _ = await ops.get("/api/v1/runs")
            assert status == 200
        said.extend(f"{w.category.__name__}: {w.message}" for w in caught if "apsisd" in w.filename)

    on_tcp(tmp_path, {"hello": "program: echo hello\n"}, test)
    assert said == []
