"""/adhoc: the form for admins, which makes the run as the API does and goes to it; a program refused is shown on
the form with what was typed; callers without the right admin are told who has it, and refused."""
from __future__ import annotations

import re
from pathlib import Path

from agentd.types import JobId, RunId
from apsisd.runs.model import Origin
from apsisd.runs.state import State
from apsisd.store.base import RunQuery
from tests.unit.web.site import Site, Tcp, on_site, on_tcp

JOBS = {"hello": "program: echo hello\n"}


def test_an_admin_starts_a_program_of_their_own_and_lands_on_its_run(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        status, text = await site.get("/adhoc")
        assert status == 200 and '<form method="post" action="/adhoc"' in text
        assert "<option>db1</option>" in text  # the configured hosts to choose from
        status, where, _ = await site.submit("/adhoc", {"kind": "exec", "program": "echo\nhi there\n",
                                                        "name": "by-hand", "host": "db1", "at": ""})
        assert status == 303 and where.startswith("/runs/r"), where
        run = await site.rig.until_state(RunId(where.removeprefix("/runs/")), State.STARTING, State.RUNNING,
                                         State.SUCCESS)
        assert (run.origin, run.job_id, run.host) == (Origin.ADHOC, "by-hand", "db1")
        assert run.spec is not None and list(run.spec.argv or ()) == ["echo", "hi there"]

    on_site(tmp_path, JOBS, test, remotes=("db1",))


def test_a_refused_program_is_shown_on_the_form_with_what_was_typed(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        status, where, text = await site.submit("/adhoc", {"kind": "shell", "program": "echo <b>", "name": "hello",
                                                           "host": "", "at": ""})
        assert status == 400 and where == ""
        assert "hello is a job of the jobs folder" in text
        assert "echo &lt;b&gt;</textarea>" in text and 'name="name" value="hello"' in text
        status, _, text = await site.submit("/adhoc", {"kind": "shell", "program": "true", "name": "x", "host": "",
                                                       "at": "tomorrow"})
        assert status == 400 and "at" in text and "ISO 8601" in text
        assert await site.rig.store.runs(RunQuery(job_id=JobId("x"))) == []

    on_site(tmp_path, JOBS, test)


def test_a_caller_without_the_right_admin_is_told_who_has_it_and_refused(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        ops = await tcp.signed_in("ops")
        status, text = await ops.get("/adhoc")
        assert status == 403
        assert '<form method="post" action="/adhoc"' not in text and "right admin" in text
        assert "tokens with the right admin" in text  # who has it
        assert 'href="/adhoc"' not in text  # the menu hides it
        token = re.search(r'<meta name="apsis-csrf" content="([^"]+)"', text)
        assert token is not None
        status, where, text = await ops.submit("/adhoc", {"kind": "shell", "program": "id", "name": "sneaky",
                                                          "host": "", "at": "", "csrf": token[1]})
        assert status == 403 and where == "" and "right admin" in text
        assert await tcp.rig.store.runs(RunQuery(job_id=JobId("sneaky"))) == []
        root = await tcp.signed_in("root")
        _, text = await root.get("/runs")
        assert 'href="/adhoc"' in text  # an admin is shown the link

    on_tcp(tmp_path, JOBS, test)
