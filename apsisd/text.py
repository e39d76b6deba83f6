"""Text from callers and files, made fit to print: every character that would end a line, move a terminal's cursor,
restyle its text or reorder it is written as an escape.

A path, a job id, an arg, a name or an error message may hold anything: a newline forges a second log record (a
request to '/x%0A... action=run_success'), ESC sequences clear an operator's screen or retitle their terminal, a
bidi override shows text in an order other than its own. apsisd's log lines and the CLI's output pass what they
did not write themselves through escaped(), so one record is one line and no sequence reaches a terminal.
"""
from __future__ import annotations

import re

# C0 but tab; DEL, C1, the line and paragraph separators, the bidi embeddings, overrides and isolates.
_PAST_C0 = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
CONTROLS = re.compile(f"[\x00-\x08\x0a-\x1f{_PAST_C0}]")
PAST_C0 = re.compile(f"[{_PAST_C0}]")  # the ones json.dumps(ensure_ascii=False) leaves raw
_NAMED = {"\n": "\\n", "\r": "\\r"}


def escaped(text: str) -> str:
    """`text` with each control character written as \\n, \\r, \\xHH or \\uHHHH; the rest as it is."""
    return CONTROLS.sub(_escape, text) if not text.isprintable() else text


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
