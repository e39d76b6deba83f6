"""The one exception tree of apsis: every error a user may see is an ApsisError.

Each room raises its own subclass; str() of any of them is a message fit for
a user (what, where, what to do), so cli/ and daemon/ can print it as is. The
base, and the host's errors, are agentd's (agentd/errors.py): apsisd builds
on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentd.errors import ApsisError

__all__ = ["ApsisError", "FileProblem", "InvalidFields", "InvalidFiles", "StoreError", "TransitionError",
           "UnknownRun", "format_path", "invalid"]


class InvalidFields(ApsisError):
    """One or more fields of a job file (or of a part of one) are wrong.

    Each problem carries the path of the field it is about, relative to the
    mapping being read; readers of nested mappings re-root the paths with
    under(), so the job loader can turn every path into FILE:LINE.
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{format_path(path) or '(top)'}: {message}" for path, message in problems))

    def under(self, *prefix: str | int) -> InvalidFields:
        """The same problems, seen from the mapping that holds this one."""
        return InvalidFields([((*prefix, *path), message) for path, message in self.problems])


def invalid(message: str) -> InvalidFields:
    """One problem with the value being read itself."""
    return InvalidFields([((), message)])


def format_path(path: tuple[str | int, ...]) -> str:
    """'schedule[1].daytime': the path as an operator would write it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One thing wrong in a file an operator wrote, where it is and what to do."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


class InvalidFiles(ApsisError):
    """A folder of job or calendar files has problems; none of it is used."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class TransitionError(ApsisError):
    """A run was asked to move to a state its state machine does not allow from where it is."""

    def __init__(self, run_id: str, old: str, new: str, allowed: list[str], *, why: str = "") -> None:
        """`why` replaces the list of `allowed` states where that list is not the answer (mark on a live run)."""
        options = ", ".join(allowed) or "none: it is finished"
        why = why or f"from {old} it may become: {options}"
        super().__init__(f"run {run_id} is {old}; it cannot become {new} ({why})")
        self.run_id = run_id
        self.old = old
        self.new = new


class UnknownRun(ApsisError):
    """No run with this id was ever recorded."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id}")
        self.run_id = run_id


class StoreError(ApsisError):
    """The state database cannot be opened, migrated or written."""
