"""The API driven from its own OpenAPI document (schemathesis) against a real apsisd: for every operation, requests
the document allows and requests it does not, checking that none answers 5xx, that the bad ones are refused with a
4xx, and that every answer (status, content type, headers, body) is what the document says. Then requests the
document allows with a hostile value put in (tests/integration/hostile.py: instants at the calendar's ends,
thousands of digits, unicode digits, control characters, deep nesting, numbers past int64 and float), each kind in
each place it can go, none of which may be answered 5xx or other than JSON. Derandomised, on a fixed number of
examples: the same requests every run, within CI's budget."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from requests.adapters import HTTPAdapter
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from apsisd.runs.state import State
from tests.integration.api import SOCKET, get, post
from tests.integration.daemon import Daemon, finished, with_daemon
from tests.integration.hostile import kinds, places, put

EXAMPLES = 20  # per operation and mode, and per run the path names
HOSTILE_EXAMPLES = 3  # per operation, place (each parameter, field) and kind of hostile value
STREAMS = {"/api/v1/events"}  # never ends by itself: exercised by test_api_events.py
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


class _UnixConnection(HTTPConnection):
    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(SOCKET)


class _UnixPool(HTTPConnectionPool):
    ConnectionCls = _UnixConnection


class _UnixAdapter(HTTPAdapter):
    """requests over apsisd's Unix socket, whatever host the URL names."""

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
                                        ) -> HTTPConnectionPool:
        return _UnixPool("apsis")


def unix_session() -> requests.Session:
    client = requests.Session()
    client.mount("http://", _UnixAdapter())
    return client


def tame(case: Any) -> None:
    """What a fuzzer must not do to the machine: make a thousand runs at once, or follow an output forever."""
    if isinstance(case.body, dict) and isinstance(case.body.get("count"), int) and case.body["count"] > 2:
        case.body["count"] = 2
    if isinstance(case.query, dict):
        case.query.pop("follow", None)


def exercise(schema: Any, run_ids: list[str]) -> list[str]:
    """Every operation, in both modes; the failures found (one line each, with the request)."""
    failures: list[str] = []
    client = unix_session()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMS:
            continue
        pinned: list[dict[str, Any] | None] = [{"run_id": run_id} for run_id in run_ids] \
            if "{run_id}" in operation.path else [None]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
            for path_parameters in pinned:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                test = _property(strategy, client, checks)
                try:
                    test()
                except Unsatisfiable:
                    continue  # nothing the document forbids can be sent here (a path's text, no parameters)
                except (Exception, FailureGroup) as exc:
                    failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}, "
                                    f"{path_parameters}): {_summary(exc)}")
        failures += _hostile(operation, pinned[0], client)
    return failures


def _hostile(operation: Any, path_parameters: dict[str, Any] | None, client: requests.Session) -> list[str]:
    """Each kind of hostile value in each place of the operation's requests (a path's run: the one finished): none
    may be answered 5xx, and each answer is JSON."""
    failures = []
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=path_parameters)
    for place in places(operation):
        for kind, values in kinds(place).items():
            try:
                _hostile_property(strategy, values, place, client)()
            except (Exception, FailureGroup) as exc:
                failures.append(f"{operation.method.upper()} {operation.path} (hostile {kind} in {place}): "
                                f"{_summary(exc)}")
    return failures


def _hostile_property(strategy: Any, values: Any, place: str, client: requests.Session) -> Callable[[], None]:
    @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy, value=values)
    def check(case: Any, value: Any) -> None:
        put(case, place, value)
        tame(case)
        case.call_and_validate(base_url="http://apsis", session=client,
                               checks=[not_a_server_error, content_type_conformance], timeout=60)

    return check


def _summary(exc: BaseException) -> str:
    """The failure's kinds and first lines, and the request that showed it (schemathesis gives a curl line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if isinstance(exc, BaseExceptionGroup):
        lines = [line.strip() for inner in exc.exceptions for line in str(inner).splitlines()[:3] if line.strip()]
    return " | ".join(lines[:12])


def _property(strategy: Any, client: requests.Session, checks: list[Any]) -> Callable[[], None]:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case: Any) -> None:
        tame(case)
        case.call_and_validate(base_url="http://apsis", session=client, checks=checks, timeout=60)

    return check


@with_daemon(timeout=900)
async def test_the_api_answers_as_its_openapi_document_says(daemon: Daemon) -> None:
    daemon.job("quick", 'program: "true"\n')
    daemon.job("greet", 'params: [who]\nprogram: "echo hello {{ who }}"\n')
    daemon.job("later", 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n')
    daemon.job("long", 'program: "sleep 600"\n')
    await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    _, made = await post("/api/v1/runs", {"job_id": "quick"})
    done = made["runs"][0]["run_id"]
    await daemon.wait_runs(finished(1), "quick")
    _, made = await post("/api/v1/runs", {"job_id": "long"})
    running = made["runs"][0]["run_id"]
    await daemon.wait_runs(lambda runs: runs[0].state is State.RUNNING, "long", "running")
    (scheduled, *_) = await daemon.wait_runs(lambda runs: bool(runs), "later", "scheduled")
    status, document = await get("/api/v1/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(document)
    failures = await asyncio.to_thread(exercise, schema, [done, running, scheduled.id, "r999999999"])
    assert not failures, "\n".join(failures) + f"\n--- apsisd log ---\n{daemon.log()[-6000:]}"
    # Still up and scheduling after all that.
    assert (await get("/api/v1/health"))[0] == 200

