"""The errors of running units on a host, and the base of every error apsis raises on purpose.

str() of any of them is a message fit for a user (what, where, what to do).
apsisd's own errors (apsisd/errors.py) derive from the same ApsisError, so
one `except ApsisError` catches a host's refusal and a scheduler's alike.
"""

from __future__ import annotations


class ApsisError(Exception):
    """Base of every error apsis raises on purpose."""


class SpecError(ApsisError):
    """A run spec is invalid; nothing was started."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"run spec field {field!r}: {problem}")
        self.field = field
        self.problem = problem


class HostError(ApsisError):
    """The host could not do what was asked (systemd refused, bus lost for too long)."""


class RunNotFound(HostError):
    """The host knows nothing of this run: no unit now, and no trace in the journal."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id}: no unit and no journal record of it on this host")
        self.run_id = run_id
