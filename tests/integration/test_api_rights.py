"""Every right (none, read, operate, admin) x every route of the app (listed from the app itself, so a route added
later must be added here) x both transports: the socket by the caller's uid and group, TCP by token. Each answer is
the exact status that right gets on that route; a refused caller's runs are left as they were. Then what ad hoc
runs amount to: an operator's on the socket runs as them, a token that operates makes none, `[api] adhoc_users`
binds admins too.

One apsisd per transport serves every row (the socket's `none` row needs `others = "none"`: one restart). The
socket's callers are the system's own accounts, as the sandbox shares the host's /etc and a test must not add to
it: user nobody with group bin (read: `others = "read"`), nogroup (operate: `[api] group`) or daemon (admin:
`[api] admin_group`)."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apsisd.rights import Right
from apsisd.runs.state import State
from apsisd.tokens_file import new_token
from tests.integration.api import SOCKET, post, session
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.test_api_access import READING, Tcp, free_port, routes, tokens_file

TOKENS = {right: new_token() for right in (Right.READ, Right.OPERATE, Right.ADMIN)}
GROUPS = {Right.NONE: "bin", Right.READ: "bin", Right.OPERATE: "nogroup", Right.ADMIN: "daemon"}
SOCKET_POLICY = '[api]\ngroup = "nogroup"\nadmin_group = "daemon"\nothers = "{others}"\n'
JOBS = {"later": 'program: "true"\n', "quick": 'program: "true"\n', "long": 'program: "sleep 300"\n'}
MINE = {"program": "id -u; id -g", "name": "mine"}  # an ad hoc run of the caller's own making
AS_ROOT = {"program": {"type": "shell", "command": "id -u", "user": "root"}, "name": "as-root"}
# What each route does to a row's own runs, and its answer to a caller with the right: a finished run (of quick)
# to read, rerun and mark; two scheduled (of later) to start and skip; two running (of long) to stop and signal.
OPERATIONS = {
    "/api/v1/runs": (None, "", 201),
    "/api/v1/reload": (None, "?dry_run=1", 200),
    "/api/v1/runs/{run_id}/start": ("scheduled", "", 200),
    "/api/v1/runs/{run_id}/skip": ("skipped", "", 200),
    "/api/v1/runs/{run_id}/stop": ("stopped", "", 200),
    "/api/v1/runs/{run_id}/signal": ("signalled", "?signal=CONT", 200),
    "/api/v1/runs/{run_id}/rerun": ("finished", "", 201),
    "/api/v1/runs/{run_id}/mark": ("marked", "?state=failure", 200),
}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: Any
    allowed: int  # the answer to a caller with the right the route needs
    needs: Right


@dataclass(frozen=True, slots=True, kw_only=True)
class Runs:
    """The runs one row of the matrix acts on, its own: made as root before it, as the routes need them."""

    finished: str
    marked: str
    scheduled: str
    skipped: str
    stopped: str
    signalled: str

    def ids(self) -> list[str]:
        return [self.finished, self.marked, self.scheduled, self.skipped, self.stopped, self.signalled]


async def made(body: dict[str, Any]) -> list[str]:
    status, answer = await post("/api/v1/runs", body)
    assert status == 201, answer
    return [run["run_id"] for run in answer["runs"]]


async def fresh_runs(daemon: Daemon) -> Runs:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    finished = await made({"job_id": "quick", "count": 2})
    scheduled = await made({"job_id": "later", "at": tomorrow, "count": 2})
    running = await made({"job_id": "long", "count": 2})
    await daemon.wait_runs(lambda runs: {run.id: run.state for run in runs if run.id in finished + running} == {
        **dict.fromkeys(finished, State.SUCCESS), **dict.fromkeys(running, State.RUNNING)}, what="the row's runs")
    return Runs(finished=finished[0], marked=finished[1], scheduled=scheduled[0], skipped=scheduled[1],
                stopped=running[0], signalled=running[1])


def requests(runs: Runs) -> list[Request]:
    """One request per route of the app, on the row's runs; then the two ad hoc runs, mine and root's."""
    found: list[Request] = []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for method, pattern in routes():
        if method in READING:
            path = pattern.replace("{run_id}", runs.finished).replace("{job_id}", "later")
            found.append(Request(method, path, None, 200, Right.READ))
            continue
        assert (method, pattern in OPERATIONS) == ("POST", True), f"{method} {pattern}: tell this test what it does"
        which, query, status = OPERATIONS[pattern]
        path = pattern.replace("{run_id}", getattr(runs, which) if which else "") + query
        body = {"job_id": "later", "at": tomorrow} if pattern == "/api/v1/runs" else None
        found.append(Request(method, path, body, status, Right.OPERATE))
    assert "{" not in "".join(request.path for request in found)
    return [*found, Request("POST", "/api/v1/runs", MINE, 201, Right.ADMIN),
            Request("POST", "/api/v1/runs", AS_ROOT, 201, Right.ADMIN)]


def expected(request: Request, right: Right, *, socket: bool) -> int:
    """The answer `right` gets: a socket operator's own ad hoc run is made, run as them (not one as root)."""
    if right is Right.NONE:
        return 403 if socket else 401
    if right >= request.needs or (socket and right is Right.OPERATE and request.body is MINE):
        return request.allowed
    return 403


async def assert_untouched(daemon: Daemon, runs: Runs) -> None:
    states = {run.id: run.state for run in await daemon.runs() if run.id in runs.ids()}
    assert states == {runs.finished: State.SUCCESS, runs.marked: State.SUCCESS, runs.scheduled: State.SCHEDULED,
                      runs.skipped: State.SCHEDULED, runs.stopped: State.RUNNING, runs.signalled: State.RUNNING}


async def assert_done(daemon: Daemon, runs: Runs) -> None:
    """What the routes did to a row's runs, once it settles (started now: success; stopped: failure)."""
    await daemon.wait_runs(lambda found: {run.id: run.state for run in found if run.id in runs.ids()} == {
        runs.finished: State.SUCCESS, runs.marked: State.FAILURE, runs.scheduled: State.SUCCESS,
        runs.skipped: State.SKIPPED, runs.stopped: State.FAILURE, runs.signalled: State.RUNNING},
        what="the operations' effects")


# The system's python (nobody may not read the checkout's virtualenv), stdlib only: each request of argv[2]
# ([method, path, body]) on the socket argv[1]; for each, the status and the JSON body of a POST or a refusal (a
# GET's is not read: some stream), or (0, "cannot connect") when the socket's mode keeps the caller out.
CLIENT = """
import json, socket, sys
answers = []
for method, path, body in json.loads(sys.argv[2]):
    data = b"" if body is None else json.dumps(body).encode()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(20)
        try:
            sock.connect(sys.argv[1])
        except PermissionError:
            answers.append([0, "cannot connect"])
            continue
        sock.sendall(f"{method} {path} HTTP/1.0\\r\\nHost: apsis\\r\\nContent-Type: application/json\\r\\n"
                     f"Content-Length: {len(data)}\\r\\n\\r\\n".encode() + data)
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(65536)
        status = int(data.split()[1])
        body = None
        if method != "HEAD" and (method == "POST" or status >= 400):
            while chunk := sock.recv(65536):
                data += chunk
            body = json.loads(data.split(b"\\r\\n\\r\\n", 1)[1])
        answers.append([status, body])
print(json.dumps(answers))
"""


def on_socket(requests: list[Request], group: str) -> list[tuple[int, Any]]:
    """The status and body of each request on the socket, made by user nobody with group `group`."""
    sent = [[request.method, request.path, request.body] for request in requests]
    proc = subprocess.run(["/usr/bin/python3", "-c", CLIENT, SOCKET, json.dumps(sent)], user="nobody", group=group,
                          capture_output=True, text=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return [(status, body) for status, body in json.loads(proc.stdout)]


async def on_tcp(tcp: Tcp, requests: list[Request], token: str | None) -> list[tuple[int, Any]]:
    answers = [await tcp.call(request.method, request.path, token, request.body) for request in requests]
    return [(status, body) for status, _, body in answers]


def check_row(requests: list[Request], answers: list[tuple[int, Any]], right: Right, *, socket: bool) -> None:
    for request, (status, body) in zip(requests, answers, strict=True):
        want = expected(request, right, socket=socket)
        assert status == want, (right, request, status, body)
        if want == 401 and request.method != "HEAD":
            assert body == {"error": "this address needs a bearer token (Authorization: Bearer TOKEN)"}, request
        if want == 403 and request.method != "HEAD":
            assert body["error"].startswith("not allowed: "), (right, request, body)


async def output_of(run_id: str) -> bytes:
    async with session() as client, client.get(f"http://apsis/api/v1/runs/{run_id}/output") as response:
        assert response.status == 200
        return await response.read()


async def ad_hoc_outputs(daemon: Daemon, answers: list[tuple[int, Any]]) -> tuple[bytes, ...]:
    """The output of the row's ad hoc runs (its last two requests) that were made, once they have finished."""
    ids = [body["runs"][0]["run_id"] for status, body in answers[-2:] if status == 201]
    await daemon.wait_runs(lambda runs: all(run.finished for run in runs if run.id in ids), what="ad hoc runs")
    return tuple([await output_of(run_id) for run_id in ids])


@with_daemon(timeout=300)
async def test_every_right_on_every_route_on_the_socket(daemon: Daemon) -> None:
    for job_id, text in JOBS.items():
        daemon.job(job_id, text)
    await daemon.start(*daemon.config(SOCKET_POLICY.format(others="read")))
    for right in (Right.READ, Right.OPERATE, Right.ADMIN):
        runs = await fresh_runs(daemon)
        answers = on_socket(sent := requests(runs), GROUPS[right])
        check_row(sent, answers, right, socket=True)
        if right is Right.READ:
            await assert_untouched(daemon, runs)
            assert answers[-2][1]["error"].startswith("not allowed: uid 65534 (pid ")
            assert answers[-2][1]["error"].endswith(") may read, not operate (the right operate is held by root, "
                                                    "apsisd's user and the groups nogroup and daemon)")
            continue
        await assert_done(daemon, runs)
        if right is Right.OPERATE:  # my program ran as me; root's was refused, saying why and who may
            assert await ad_hoc_outputs(daemon, answers) == (b"65534\n65534\n",)
            assert answers[-1][1]["error"].startswith("not allowed: uid 65534 (pid ")
            assert answers[-1][1]["error"].endswith(
                ") may operate, not run an ad hoc program as user root (the right admin is held by root, apsisd's "
                "user and the group daemon); without it, an ad hoc run runs as its caller: uid 65534, gid 65534")
        else:  # an admin's ran as root: apsisd's own user, and the one named
            assert await ad_hoc_outputs(daemon, answers) == (b"0\n0\n", b"0\n")
    assert await daemon.stop() == 0
    await daemon.start(*daemon.config(SOCKET_POLICY.format(others="none")))
    runs = await fresh_runs(daemon)
    answers = on_socket(requests(runs), GROUPS[Right.NONE])
    assert answers == [(0, "cannot connect")] * len(answers)  # the socket is 0660 for nogroup: the kernel says no
    await assert_untouched(daemon, runs)


@with_daemon(timeout=300)
async def test_every_right_on_every_route_over_tcp(daemon: Daemon) -> None:
    tokens = tokens_file(daemon.root, *((right.word, right, token) for right, token in TOKENS.items()))
    port = free_port()
    for job_id, text in JOBS.items():
        daemon.job(job_id, text)
    await daemon.start(*daemon.config(f"""
        api.listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        api.tokens = "{tokens}"
        """))
    tcp = Tcp(f"http://127.0.0.1:{port}")
    for right in Right:
        runs = await fresh_runs(daemon)
        answers = await on_tcp(tcp, sent := requests(runs), TOKENS.get(right))
        check_row(sent, answers, right, socket=False)
        if right < Right.OPERATE:
            await assert_untouched(daemon, runs)
            continue
        await assert_done(daemon, runs)
        if right is Right.OPERATE:  # no ad hoc run at all: a token is no user of this host
            assert [body["error"] for _, body in answers[-2:]] == 2 * [
                "not allowed: token operate may operate, not run ad hoc programs (the right admin is held by tokens "
                "with the right admin)"]
            assert not [run for run in await daemon.runs() if run.job_id in ("mine", "as-root")]
        else:
            assert await ad_hoc_outputs(daemon, answers) == (b"0\n0\n", b"0\n")
            [mine] = await daemon.runs("mine")
            first, *_ = await daemon.entries(mine.id)
            assert first.message == "ad hoc run created by token admin through the API"


@with_daemon()
async def test_adhoc_users_binds_every_ad_hoc_run(daemon: Daemon) -> None:
    await daemon.start(*daemon.config('[api]\ngroup = "nogroup"\nadhoc_users = ["nobody"]\n'))
    refused = {
        "root, by default": ({"program": "id -u"}, "not as root (apsisd's own user, for a program that names none)"),
        "root by uid": ({"program": {"type": "shell", "command": "id -u", "user": "0"}}, "not as root"),
        "daemon": ({"program": {"type": "shell", "command": "id -u", "user": "daemon"}}, "not as daemon"),
    }
    for what, (body, named) in refused.items():  # root on the socket: an admin, bound all the same
        status, answer = await post("/api/v1/runs", body)
        assert (status, answer) == (403, {"error": "not allowed: ad hoc runs may run only as the users [api] "
                                                   f"adhoc_users lists (nobody), {named}; give the program a user: "
                                                   "of the list"}), what
    status, answer = await post("/api/v1/runs", {"program": {"type": "shell", "command": "id -u; id -g",
                                                             "user": "65534"}})
    assert status == 201, answer
    [mine] = on_socket([Request("POST", "/api/v1/runs", MINE, 201, Right.ADMIN)], "nogroup")  # an operator's own
    assert mine[0] == 201, mine
    await daemon.wait_runs(lambda runs: len(runs) == 2 and all(run.finished for run in runs), what="ad hoc runs")
    assert [await output_of(run.id) for run in await daemon.runs()] == [b"65534\n65534\n"] * 2
    assert [run.spec.user if run.spec else None for run in await daemon.runs()] == ["nobody", "nobody"]
    assert not [run for run in await daemon.runs() if run.state is not State.SUCCESS]
