"""Reading a job file's YAML with the line of every value, under typing rules an operator can predict.

PyYAML follows YAML 1.1, which turns `10:30` into 630, `no` into False and
`2026-01-31` into a date: wrong for daytimes, args and explicit times. Here
only `true`/`false`, null, plain decimal integers and decimal floats are
typed; every other scalar stays the text as written. Each value's field path
(a tuple of keys and indices) maps to its line, so a problem found later
while reading the job becomes FILE:LINE: field.path: message.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from apsisd.errors import FileProblem, InvalidFiles

Path = tuple[str | int, ...]

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


def read_job_file(file: str) -> Document:
    """The document in `file`; InvalidFiles if it cannot be read, is not UTF-8 or is not valid YAML."""
    try:
        with open(file, "rb", buffering=0) as stream:  # unbuffered: one read of the whole file, half pathlib's cost
            data = stream.readall()
    except OSError as exc:
        raise InvalidFiles([FileProblem(file, 1, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidFiles([FileProblem(file, line, "", "not UTF-8 text; save the file as UTF-8")]) from None
    return read_yaml(text, file)


def read_yaml(text: str, file: str) -> Document:
    """The document in `text`; InvalidFiles with every problem (syntax, duplicate keys, tags) otherwise."""
    loader = JobFileLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        raise InvalidFiles([FileProblem(file, mark.line + 1 if mark else 1, "", f"invalid YAML: {detail}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidFiles([FileProblem(file, 1, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if root is None:
        return Document(value=None, root=None)
    builder = _Builder(file, aliases="&" in text and "*" in text)
    value = builder.build(root)
    if builder.problems:
        raise InvalidFiles(builder.problems)
    return Document(value=value, root=root if value is not None else None)


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
    """Turns composed nodes into plain values, collecting problems."""

    def __init__(self, file: str, aliases: bool = True) -> None:
        self.file = file
        self.problems: list[FileProblem] = []
        # The collections being built, to find a loop; only an alias can make one, and most files have none.
        self._open: set[int] | None = set() if aliases else None

    def problem(self, node: Node, message: str) -> None:
        problem = FileProblem(self.file, node.start_mark.line + 1, "", message)
        if problem not in self.problems:  # an alias builds its anchor's value again
            self.problems.append(problem)

    def build(self, node: Node) -> Any:
        if node.__class__ is ScalarNode:
            return self.scalar(node)
        if self._open is None:
            return self.collection(node)
        if id(node) in self._open:
            self.problem(node, "a YAML alias refers to a value that contains it; remove the loop")
            return None
        self._open.add(id(node))
        try:
            return self.collection(node)
        finally:
            self._open.discard(id(node))

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
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                self.problem(key_node, "a mapping key must be a plain name, not a list or mapping")
                continue
            if (key_node.tag is PLAIN and key_node.value == "<<") or key_node.tag == MERGE:  # _merges(), inlined
                merges.append(value_node)
                continue
            key = key_node.value
            if key in result:
                first = next(other for other, _ in node.value if other.__class__ is ScalarNode and other.value == key)
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
                found.append(self.mapping(source))
            else:
                self.problem(source, "`<<` merges a mapping (or a list of mappings) into this one")
        return found
