"""Ad hoc runs, starting a run now, the sanity report and health, against a real apsisd."""
from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from apsisd.runs.state import State
from tests.integration.api import get, post, session
from tests.integration.daemon import Daemon, finished, with_daemon


async def output_of(run_id: str) -> bytes:
    async with session() as client, client.get(f"http://apsis/api/v1/runs/{run_id}/output") as response:
        return await response.read()


@with_daemon()
async def test_ad_hoc_runs_have_a_program_of_their_own(daemon: Daemon) -> None:
    daemon.job("etl/load", 'program: "echo {{ run_id }} of {{ job_id }}"\n')
    await daemon.start()
    status, made = await post("/api/v1/runs", {"program": "echo {{ run_id }} from {{ job_id }}; exit 4"})
    assert status == 201
    (shell,) = made["runs"]
    assert (shell["origin"], shell["job_id"], shell["args"], shell["host"]) == ("adhoc", "adhoc", {}, None)
    status, made = await post("/api/v1/runs", {"program": ["/bin/echo", "as", "argv"], "name": "by-hand",
                                               "count": 2})
    assert status == 201 and [run["job_id"] for run in made["runs"]] == ["by-hand", "by-hand"]
    _, job_runs = await post("/api/v1/runs", {"job_id": "etl/load"})
    runs = await daemon.wait_runs(finished(4))
    by_id = {run.id: run for run in runs}
    assert (by_id[shell["run_id"]].state, by_id[shell["run_id"]].exit_code) == (State.FAILURE, 4)
    assert await output_of(shell["run_id"]) == f"{shell['run_id']} from adhoc\n".encode()
    assert by_id[shell["run_id"]].host == "local"  # the host it ran on, recorded when it started
    assert await output_of(made["runs"][0]["run_id"]) == b"as argv\n"
    job_run = job_runs["runs"][0]["run_id"]  # a job's program sees run_id and job_id too
    assert await output_of(job_run) == f"{job_run} of etl/load\n".encode()
    for body, message in [
        ({"program": "true", "name": "etl/load"}, "etl/load is a job of the jobs folder"),
        ({"program": {"type": "shell"}}, "program.command: is required"),
        ({"program": "echo {{ nope }}"}, "'nope' is undefined"),
        ({"program": "true", "job_id": "etl/load"}, "takes no job_id or args"),
        ({"program": "true", "name": ""}, "name must be a short text"),
        ({"job_id": "etl/load", "name": "x"}, "name is for ad hoc runs"),
        ({"program": "true", "host": "db9"}, "host: no host or group 'db9' in apsisd.toml; use one of: local"),
        ({"program": "true", "host": ["local"]}, "host: must be the name of a host or a group"),
        ({"job_id": "etl/load", "host": "local"}, "host is for ad hoc runs"),
    ]:
        status, error = await post("/api/v1/runs", body)
        assert status == 400 and message in error["error"], (body, error)


@with_daemon()
async def test_a_scheduled_or_waiting_run_started_now(daemon: Daemon) -> None:
    daemon.job("later", 'program: "true"\n')
    daemon.job("never", 'program: "true"\n')
    daemon.job("blocked", 'program: "true"\ncondition: {type: dependency, job_id: never}\n')
    await daemon.start()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    (later,) = (await post("/api/v1/runs", {"job_id": "later", "at": tomorrow}))[1]["runs"]
    status, started = await post(f"/api/v1/runs/{later['run_id']}/start")
    assert status == 200 and started["state"] in ("starting", "running", "success")
    (done,) = [run for run in await daemon.wait_runs(lambda runs: any(r.finished for r in runs), "later")
               if run.finished]
    assert (done.id, done.state) == (later["run_id"], State.SUCCESS)
    assert any("started now by uid 0" in entry.message for entry in await daemon.entries(done.id))
    _, made = await post("/api/v1/runs", {"job_id": "blocked"})
    (blocked,) = made["runs"]
    await daemon.wait_runs(lambda runs: runs[0].state is State.WAITING, "blocked", "waiting")
    assert (await post(f"/api/v1/runs/{blocked['run_id']}/start"))[0] == 200
    (ran,) = await daemon.wait_runs(finished(1), "blocked")
    assert ran.state is State.SUCCESS
    assert any("without waiting for its conditions" in entry.message for entry in await daemon.entries(ran.id))
    status, error = await post(f"/api/v1/runs/{ran.id}/start")
    assert status == 409 and "only a scheduled or waiting run can be started now" in error["error"]
    assert (await post("/api/v1/runs/r999999/start"))[0] == 404


@with_daemon()
async def test_health_and_the_sanity_report(daemon: Daemon) -> None:
    daemon.job("quick", 'program: "true"\n')
    await daemon.start()
    status, health = await get("/api/v1/health")
    assert status == 200 and (health["status"], health["scheduling"], health["jobs"]) == ("ok", True, 1)
    status, report = await get("/api/v1/check")
    assert status == 200 and report["ok"] is True, report
    ago = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    await post("/api/v1/runs", {"job_id": "quick", "at": ago})
    (late,) = await daemon.wait_runs(finished(1), "quick")
    assert late.lateness is not None and late.lateness > 29
    # A unit of apsis's name that no run of this apsisd has (what an apsisd of another database would leave).
    subprocess.run(["systemd-run", "--unit=apsis-r99999999", "--slice=apsis.slice", "sleep", "300"], check=True,
                   capture_output=True)
    status, report = await get("/api/v1/check?late=10")
    assert status == 200 and report["ok"] is False
    assert [run["run_id"] for run in report["late"]] == [late.id]
    assert [(unit["unit"], unit["active_state"]) for unit in report["orphan_units"]] == [
        ("apsis-r99999999.service", "active")]
    assert (report["overdue"], report["lost"], report["unscheduled_jobs"]) == ([], [], [])
    assert (await get("/api/v1/check?late=60"))[1]["late"] == []
    assert (await get("/api/v1/check?late=-1"))[0] == 400
    assert (await get("/api/v1/check?lateness=1"))[0] == 400
