"""Web origins in one spelling, as browsers send them, and [web] origin read strictly."""
from __future__ import annotations

import pytest

from apsisd.config.origin import origin, read_origin
from apsisd.errors import InvalidFields


@pytest.mark.parametrize(("url", "found"), [
    ("https://Apsis.Example.com", "https://apsis.example.com"),
    ("https://apsis.example.com:443", "https://apsis.example.com"),
    ("http://127.0.0.1:80", "http://127.0.0.1"),
    ("http://127.0.0.1:5050", "http://127.0.0.1:5050"),
    ("http://[::1]:5050", "http://[::1]:5050"),
    ("https://apsis.example.com:8443/", "https://apsis.example.com:8443"),
    ("null", None), ("", None), ("ftp://apsis", None), ("https://", None), ("http://a:99999", None),
    ("https://user:pw@apsis.example.com", None),
])
def test_an_origin_has_one_spelling(url: str, found: str | None) -> None:
    assert origin(url) == found


def test_the_setting_is_an_origin_and_nothing_more() -> None:
    assert read_origin("https://apsis.example.com/") == "https://apsis.example.com"
    for wrong in ("https://apsis.example.com/apsis", "apsis.example.com", "https://a/?x", 443):
        with pytest.raises(InvalidFields, match="the address browsers open the page at"):
            read_origin(wrong)
