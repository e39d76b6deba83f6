"""Where each key of a TOML file is written, so a wrong value is reported as FILE:LINE.

tomllib gives values without positions. This scanner walks the same
(already parsed, so valid) text once more and notes the line of every key,
table header and array item by its path: `[schedule]` then `horizon = ...`
is ("schedule", "horizon"); dotted keys and inline tables likewise; the
second item of `listen = [...]` is ("api", "listen", 1).
"""
from __future__ import annotations

import re
import tomllib

Path = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}#\r\n]")


def key_lines(text: str) -> dict[Path, int]:
    """The 1-based line of each key, table and array item of valid TOML `text`, by path (first place wins).

    Past the nesting this scanner's recursion allows, the lines found so far: a problem deeper than that is
    reported at the nearest of them (line_of), not as a crash.
    """
    scanner = _Scanner(text)
    try:
        return scanner.scan()
    except RecursionError:
        return scanner.lines


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of `path`, else of the nearest table or key holding it, else 1 (a problem with the whole file)."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[Path, int] = {}
        self.table_counts: dict[Path, int] = {}
        self._counted = 0  # the line of `pos` is counted up to here: each line end is counted once
        self._line = 1

    def scan(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return self.lines
            if self._at("["):
                table = self._header()
            else:
                self._key_value(table)

    @property
    def line(self) -> int:
        """The line of `pos`, counted on from the last time (the cursor only goes forward): counting from the
        start for every key was quadratic in the file's length."""
        self._line += self.text.count("\n", self._counted, self.pos)
        self._counted = self.pos
        return self._line

    def _at(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def _note(self, path: Path, line: int) -> None:
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], line)

    def _skip(self, *, newlines: bool) -> None:
        """Past blanks and comments (and line ends, if `newlines`)."""
        blanks = " \t\r\n" if newlines else " \t"
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in blanks:
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def _header(self) -> Path:
        """`[a.b]` or `[[a.b]]`; an array of tables gets the index of this table in its path."""
        line = self.line
        array = self._at("[[")
        self.pos += 2 if array else 1
        key = self._key()
        self._skip(newlines=False)
        self.pos += 2 if array else 1
        table: Path = key
        if array:
            index = self.table_counts.get(key, 0)
            self.table_counts[key] = index + 1
            table = (*key, index)
        self._note(table, line)
        return table

    def _key_value(self, table: Path) -> None:
        line = self.line
        path = (*table, *self._key())
        self._note(path, line)
        self._skip(newlines=False)
        self.pos += 1  # =
        self._skip(newlines=False)
        self._value(path)

    def _key(self) -> Path:
        """A dotted key: bare, "basic" or 'literal' parts."""
        parts: list[str] = []
        while True:
            self._skip(newlines=False)
            if self._at('"'):
                start = self.pos
                self._basic_string()
                parts.append(tomllib.loads(f"k = {self.text[start:self.pos]}")["k"])
            elif self._at("'"):
                end = self.text.index("'", self.pos + 1)
                parts.append(self.text[self.pos + 1:end])
                self.pos = end + 1
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                assert match is not None, "key_lines() is given text tomllib has parsed"
                parts.append(match.group())
                self.pos = match.end()
            self._skip(newlines=False)
            if not self._at("."):
                return tuple(parts)
            self.pos += 1

    def _value(self, path: Path) -> None:
        if self._at('"""') or self._at("'''"):
            self._multiline_string(self.text[self.pos])
        elif self._at('"'):
            self._basic_string()
        elif self._at("'"):
            self.pos = self.text.index("'", self.pos + 1) + 1
        elif self._at("["):
            self._array(path)
        elif self._at("{"):
            self._inline_table(path)
        else:  # number, boolean, date: up to the next separator (a date may hold a space)
            match = _SCALAR_END.search(self.text, self.pos)
            self.pos = len(self.text) if match is None else match.start()

    def _basic_string(self) -> None:
        self.pos += 1
        while self.text[self.pos] != '"':
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        self.pos += 1

    def _multiline_string(self, quote: str) -> None:
        self.pos += 3
        while not self._at(quote * 3):
            self.pos += 2 if quote == '"' and self._at("\\") else 1
        self.pos += 3
        while self._at(quote):  # up to two quotes may end the content itself: """a"""""
            self.pos += 1

    def _array(self, path: Path) -> None:
        self.pos += 1
        index = 0
        while True:
            self._skip(newlines=True)
            if self._at("]"):
                self.pos += 1
                return
            self._note((*path, index), self.line)
            self._value((*path, index))
            index += 1
            self._skip(newlines=True)
            if self._at(","):
                self.pos += 1

    def _inline_table(self, path: Path) -> None:
        self.pos += 1
        while True:
            self._skip(newlines=False)
            if self._at("}"):
                self.pos += 1
                return
            self._key_value(path)
            self._skip(newlines=False)
            if self._at(","):
                self.pos += 1
