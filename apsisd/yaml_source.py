"""Reading a job or calendar file's YAML with the line of every value, under typing rules an operator can predict.

PyYAML follows YAML 1.1, which turns `10:30` into 630, `no` into False and
`2026-01-31` into a date: wrong for daytimes, args and explicit times. Here
only `true`/`false`, null, plain decimal integers and decimal floats are
typed; every other scalar stays the text as written. Each value's field path
(a tuple of keys and indices) maps to its line, so a problem found later
while reading the job becomes FILE:LINE: field.path: message.

Whatever a file holds, reading it ends in its value or in problems with
their lines, never in another exception, and in bounded time and memory: a
file is at most MAX_FILE bytes, lists and mappings nest at most MAX_DEPTH
deep, and the values that YAML aliases repeat number at most
MAX_ALIAS_VALUES (a 429-byte "billion laughs" file made 700 MiB).
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from apsisd.errors import FileProblem, InvalidFiles

Path = tuple[str | int, ...]

MAX_FILE = 1 << 20  # bytes of one file: a job is a few hundred, the longest program many thousands
MAX_DEPTH = 64  # lists and mappings within each other: a job needs five or six
MAX_ALIAS_VALUES = 10_000  # values repeated by aliases (`*name`, `<<: *name`) in one file, all told

BASE_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR = "tag:yaml.org,2002:str"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
NULL = "tag:yaml.org,2002:null"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
MERGE = "tag:yaml.org,2002:merge"
SCALARS: dict[str, Callable[[str], Any]] = {
    STR: str,
    NULL: lambda text: None,
    BOOL: lambda text: text.lower() == "true",
    INT: int,
    FLOAT: float,
    MERGE: str,  # `<<` as a value is text; as a key it merges (see _Builder.mapping)
}
BOOLS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# Decimal only, no leading zeros: `007` and `0x1F` stay text, as an arg would want.
INTEGER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)", re.ASCII)
DECIMAL = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?)",
                     re.ASCII)
DEFAULT_TAGS = {ScalarNode: STR, SequenceNode: SEQ, MappingNode: MAP}
# The tag of a plain, untagged scalar until _Builder types it (compared by identity: no document's tag is this
# object). Typing waits for the builder because keys, half the scalars, stay text and need none.
PLAIN = "tag:apsis,plain"
# The first and last characters of a plain scalar plain_tag() may type (true, null, 1.5e3...); a scalar with
# another one at either end is text. "" covers the empty scalar (null).
TYPED_START = "tTfF~nN-+0123456789."
TYPED_END = "eElL~0123456789."


def plain_tag(text: str) -> str:
    """The type of a plain (unquoted, untagged) scalar: bool, null, int, float, or else text."""
    first = text[:1]
    if first in "tTfF" and text in BOOLS:
        return BOOL
    if first in "~nN" and text in NULLS:
        return NULL
    if first in "-+0123456789.":
        if INTEGER.fullmatch(text):
            return INT
        if DECIMAL.fullmatch(text):
            return FLOAT
    return MERGE if text == "<<" else STR


class JobFileLoader(BASE_LOADER):  # type: ignore[misc]
    """The YAML loader of job files: the C parser when present, typing plain scalars by plain_tag() alone.

    Replaces PyYAML's resolver machinery (a list of regular expressions per
    first character, path resolvers) with one function that only marks plain
    scalars PLAIN: a large jobs folder has millions of scalars, and the C
    composer calls it for each.
    """

    def resolve(self, kind: type[Node], value: str, implicit: tuple[bool, bool]) -> str:
        return PLAIN if kind is ScalarNode and implicit[0] else DEFAULT_TAGS[kind]

    # The composer calls these around every node, for path resolvers, which job files do not use. C
    # functions that do nothing cost less than Python no-ops (dict.get returns `index`; tuple() returns ()).
    descend_resolver = staticmethod(dict[Any, Any]().get)
    ascend_resolver = staticmethod(tuple)


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A file's value (None when the file is empty), and its YAML nodes to find the line of a field path.

    Lines are looked up only for problems, which are rare: reading a file
    builds no table of them.
    """

    value: Any
    root: Node | None

    def line(self, path: Path) -> int:
        """The line of `path` (a key's own), or of its nearest parent in the file (a missing key: its mapping's)."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            mark_node, node = found
            line = mark_node.start_mark.line + 1
        return line


def read_yaml_file(file: str) -> Document:
    """The document in `file`; InvalidFiles if it cannot be read (read_text_file) or is not valid YAML within
    the limits."""
    return read_yaml(read_text_file(file), file)


def read_text_file(file: str) -> str:
    """The text of `file`; InvalidFiles if it cannot be read, or is not a regular file of at most MAX_FILE bytes
    of UTF-8."""
    data = _read_bytes(file)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidFiles([FileProblem(file, line, "", "not UTF-8 text; save the file as UTF-8")]) from None


def _read_bytes(file: str) -> bytes:
    """The bytes of `file`, read without waiting on a pipe or a device and never more than MAX_FILE + 1."""
    try:
        # Not blocking: a FIFO named x.yaml would hold the reload (and its lock) forever at open().
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidFiles([FileProblem(file, 1, "", f"cannot read: {exc.strerror}")]) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidFiles([FileProblem(file, 1, "", "not a regular file; a job or calendar file must be one")])
        chunks, size = [], 0
        while size <= MAX_FILE and (chunk := os.read(fd, MAX_FILE + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InvalidFiles([FileProblem(file, 1, "", f"cannot read: {exc.strerror}")]) from None
    finally:
        os.close(fd)
    if size > MAX_FILE:
        raise InvalidFiles([FileProblem(file, 1, "", f"larger than {MAX_FILE >> 20} MiB, the most a job or calendar "
                                        "file may be; split it, or move what is not the job's out of it")])
    return b"".join(chunks)


def read_yaml(text: str, file: str) -> Document:
    """The document in `text`; InvalidFiles with every problem (syntax, duplicate keys, tags, limits) otherwise."""
    loader = JobFileLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        raise InvalidFiles([FileProblem(file, mark.line + 1 if mark else 1, "", f"invalid YAML: {detail}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a NUL, a lone surrogate)
        line = text.count("\n", 0, exc.position) + 1
        raise InvalidFiles([FileProblem(file, line, "", f"invalid YAML: character U+{exc.character:04X} is not "
                                        f"allowed: {exc.reason}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidFiles([FileProblem(file, 1, "", f"invalid YAML: {' '.join(str(exc).split())}")]) from None
    except RecursionError:  # PyYAML's own composer (without libyaml) recurses once per level
        raise InvalidFiles([FileProblem(file, 1, "", _too_deep())]) from None
    finally:
        loader.dispose()
    if root is None:
        return Document(value=None, root=None)
    builder = _Builder(file, aliases="&" in text and "*" in text)
    try:
        value = builder.build(root)
    except _Overspent as exc:
        builder.problem(exc.node, f"YAML aliases here repeat more than {MAX_ALIAS_VALUES} values in this file; "
                                  "write the values out, or refer to fewer")
    if builder.problems:
        raise InvalidFiles(builder.problems)
    return Document(value=value, root=root if value is not None else None)


def _too_deep() -> str:
    return f"lists and mappings nested more than {MAX_DEPTH} deep; a job needs a few levels"


class _Overspent(Exception):
    """Aliases have repeated more than MAX_ALIAS_VALUES values: building stops at `node`."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node


def _child(node: Node, part: str | int) -> tuple[Node, Node] | None:
    """(the node whose line stands for `part` in `node`: a key or an item, the value's node), if there."""
    if isinstance(part, int):
        if isinstance(node, SequenceNode) and 0 <= part < len(node.value):
            return node.value[part], node.value[part]
        return None
    if not isinstance(node, MappingNode):
        return None
    merges = []
    for key, value in node.value:
        if _merges(key):
            merges.append(value)
        elif isinstance(key, ScalarNode) and key.value == part:
            return key, value
    for merge in merges:
        for source in merge.value if isinstance(merge, SequenceNode) else [merge]:
            if isinstance(source, MappingNode) and (found := _child(source, part)):
                return found
    return None


def _merges(key: Node) -> bool:
    """Whether a mapping key is `<<` (plain) or tagged !!merge: its value is merged into the mapping."""
    return key.value == "<<" if key.tag is PLAIN else key.tag == MERGE


class _Builder:
    """Turns composed nodes into plain values, collecting problems.

    The composed nodes are a graph as small as the text (an alias is its anchor's node again); the values
    built from them are a tree, where each alias is a copy. So the builder, not the parser, bounds what
    aliases cost: it counts the values it builds again for an alias, and stops past MAX_ALIAS_VALUES.
    """

    def __init__(self, file: str, aliases: bool = True) -> None:
        self.file = file
        self.problems: list[FileProblem] = []
        self._found: set[FileProblem] = set()
        self._depth = 0
        # Only an alias can make a loop or repeat a value, and most files have none: then these stay None.
        self._open: set[int] | None = set() if aliases else None  # the collections being built, to find a loop
        self._built: set[int] = set()  # the collections built once: building one again is an alias's copy
        self._copying = False  # within an alias's copy
        self._copied = 0  # the values copied so far

    def problem(self, node: Node, message: str) -> None:
        problem = FileProblem(self.file, node.start_mark.line + 1, "", message)
        if problem not in self._found:  # an alias builds its anchor's value again
            self._found.add(problem)
            self.problems.append(problem)

    def build(self, node: Node) -> Any:
        if node.__class__ is ScalarNode:
            return self.scalar(node)
        if self._depth >= MAX_DEPTH:  # the checks that span a job walk it recursively, as does this
            self.problem(node, _too_deep())
            return None
        self._depth += 1
        try:
            return self.collection(node) if self._open is None else self.aliased(node)
        finally:
            self._depth -= 1

    def aliased(self, node: Node) -> Any:
        """collection(), in a file with aliases: refusing loops, counting what aliases copy."""
        key = id(node)
        if key in self._open:  # type: ignore[operator]
            self.problem(node, "a YAML alias refers to a value that contains it; remove the loop")
            return None
        copying, again = self._copying, key in self._built
        if copying or again:
            self._copied += len(node.value)
            if self._copied > MAX_ALIAS_VALUES:
                raise _Overspent(node)
        self._built.add(key)
        self._open.add(key)  # type: ignore[union-attr]
        self._copying = copying or again
        try:
            return self.collection(node)
        finally:
            self._open.discard(key)  # type: ignore[union-attr]
            self._copying = copying

    def collection(self, node: Node) -> Any:
        if node.tag == MAP:
            return self.mapping(node)
        if node.tag == SEQ:
            return self.sequence(node)
        self.problem(node, f"unsupported YAML tag {node.tag!r}; use a plain list or mapping")
        return None

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag is PLAIN:
            text = node.value
            if text[:1] not in TYPED_START or text[-1:] not in TYPED_END:
                return text
            tag = plain_tag(text)
        if tag == STR:
            return node.value
        make = SCALARS.get(tag)
        if make is None:
            self.problem(node, f"unsupported YAML tag {node.tag!r}; write the value as plain text")
            return None
        try:
            return make(node.value)
        except ValueError:
            self.problem(node, f"{node.value!r} is not a valid {tag.rsplit(':', 1)[-1]}")
            return None

    # sequence() and mapping() inline the common case, a scalar that is text as it stands (quoted, or plain
    # and not typed): a large folder has millions.

    def sequence(self, node: SequenceNode) -> list[Any]:
        return [item.value if item.__class__ is ScalarNode and (
                    (item.tag is PLAIN and (item.value[:1] not in TYPED_START or item.value[-1:] not in TYPED_END))
                    or item.tag == STR) else self.build(item)
                for item in node.value]

    def mapping(self, node: MappingNode) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[Node] = []
        firsts: dict[str, Node] | None = None  # each key's first node, made at the first duplicate
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                self.problem(key_node, "a mapping key must be a plain name, not a list or mapping")
                continue
            if (key_node.tag is PLAIN and key_node.value == "<<") or key_node.tag == MERGE:  # _merges(), inlined
                merges.append(value_node)
                continue
            key = key_node.value
            if key in result:
                if firsts is None:  # once: looking each duplicate up from the start was quadratic
                    firsts = {}
                    for other, _ in node.value:
                        if other.__class__ is ScalarNode:
                            firsts.setdefault(other.value, other)
                first = firsts[key]
                self.problem(key_node, f"duplicate key {key!r} (first at line {first.start_mark.line + 1}); "
                                       "a key may appear once in a mapping")
                continue
            result[key] = (value_node.value if value_node.__class__ is ScalarNode and (
                               (value_node.tag is PLAIN and (value_node.value[:1] not in TYPED_START or
                                                             value_node.value[-1:] not in TYPED_END)) or
                               value_node.tag == STR) else self.build(value_node))
        # Merged keys come after the mapping's own, so its own keep their values.
        for merge in merges:
            for extra in self.merge(merge):
                for key, value in extra.items():
                    result.setdefault(key, value)
        return result

    def merge(self, node: Node) -> list[dict[str, Any]]:
        """The mappings a `<<:` key merges in (one, or a list of them); the first given wins."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        found = []
        for source in sources:
            if isinstance(source, MappingNode) and source.tag == MAP:
                merged = self.build(source)  # through build(): a merge is an alias's copy, counted as such
                if merged is not None:
                    found.append(merged)
            else:
                self.problem(source, "`<<` merges a mapping (or a list of mappings) into this one")
        return found
