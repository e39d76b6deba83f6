"""A job's description (Markdown, written by the jobs folder's authors) as HTML that can do nothing but show.

CommonMark with raw HTML off: a `<script>` or `<b onmouseover>` in a description is shown as the text it is. A
link or an image goes only where the page may send a reader: http, https and mailto, or a path of this site;
javascript:, data:, vbscript:, file: and every other scheme are left as text. The page's Content-Security-Policy
(web/render.py) forbids inline scripts besides, so even a mistake here would run nothing.
"""
from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markupsafe import Markup

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_ALLOWED = frozenset({"http", "https", "mailto"})


def _safe_link(url: str) -> bool:
    found = _SCHEME.match(url.strip())
    return found is None or found[1].lower() in _ALLOWED


_MD = MarkdownIt("commonmark", {"html": False})
_MD.validateLink = _safe_link  # type: ignore[method-assign]


def to_html(text: str) -> Markup:
    """The description as HTML, safe to put in a page as it is."""
    return Markup(_MD.render(text))
