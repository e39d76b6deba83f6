"""What apsisd and agentd say to each other, beyond the Host's own types: the hello, and errors.

A connection opens with the client's hello (the versions it speaks, the
scheduler it is) and agentd's answer (the version chosen, who and where it
is). Then the client sends requests, each with an id of its own:
`{"id": 7, "op": "start", ...}`. A request is answered once, `{"id": 7,
"ok": ...}` or `{"id": 7, "error": {...}}`; a stream (`events`, `output`)
with any number of `{"id": 7, "items": [...]}` then `{"id": 7, "end": true}`
or an error. `{"id": 7, "op": "cancel"}` ends a stream early. docs/hosts.md,
"The protocol", has every request.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentd.errors import ApsisError, HostError, RunNotFound, SpecError
from agentd.protocol.frames import ProtocolError

PROTOCOL = 1  # the version this side speaks; a peer that speaks none of ours is refused at hello
SPOKEN = (PROTOCOL,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """agentd's answer to a client's hello: who and where it is (its clock is asked by a ping after it: the hello's
    answer waits for agentd's own start, and would count it)."""

    protocol: int
    agentd: str  # agentd's version
    hostname: str
    machine_id: str
    boot_id: str
    user: str
    manager: str  # "system" or "user": the systemd it drives


def error_to_plain(exc: BaseException) -> dict[str, Any]:
    """An error as sent: its kind, what the receiving side needs to raise the same, and the message."""
    if isinstance(exc, SpecError):
        return {"kind": "spec", "field": exc.field, "problem": exc.problem, "message": str(exc)}
    if isinstance(exc, RunNotFound):
        return {"kind": "not_found", "run_id": exc.run_id, "message": str(exc)}
    if isinstance(exc, ApsisError):
        return {"kind": "host", "message": str(exc)}
    return {"kind": "internal", "message": f"{type(exc).__name__}: {exc}"}


def error_from_plain(data: Any, host: str) -> ApsisError:
    """The error agentd on `host` sent, as the same exception raised here."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        raise ProtocolError(f"{host}: an error with no message: {data!r}")
    kind = data.get("kind")
    if kind == "spec" and isinstance(data.get("field"), str) and isinstance(data.get("problem"), str):
        return SpecError(data["field"], data["problem"])
    if kind == "not_found" and isinstance(data.get("run_id"), str):
        return RunNotFound(data["run_id"])
    if kind == "internal":
        return HostError(f"agentd on {host} failed: {data['message']}")
    return HostError(f"{host}: {data['message']}")
