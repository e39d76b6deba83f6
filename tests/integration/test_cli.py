"""`apsis` against a real apsisd, reading: status, jobs, job, runs, show, log, output; times local or --utc;
--json; the errors (unknown run or job, bad values), apsisd not running, and a caller it refuses."""
from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import apsisd
from apsisd.runs.state import State
from tests.integration.apsis_cli import APSIS, SOCKET, Result, Running, apsis, environment
from tests.integration.daemon import Daemon, explicit, finished, soon, with_daemon


@with_daemon()
async def test_status_and_jobs(daemon: Daemon) -> None:
    daemon.job("hello", 'metadata: {description: says hello, labels: [demo]}\nprogram: "true"\n')
    daemon.job("etl/load", 'params: [date]\nprogram: "echo {{ date }}"\n')
    await daemon.start()
    status = apsis("status")
    assert status.code == 0, status
    assert "apsisd: up, scheduling" in status.out and "Jobs: 2" in status.out
    assert "Address: unix:/run/apsis/api.sock" in status.out
    assert apsis("status", "--json").json()["jobs"] == 2
    jobs = apsis("jobs")
    assert jobs.code == 0, jobs
    assert jobs.out.splitlines() == [
        "JOB       SCHEDULES  PARAMS  LABELS  DESCRIPTION",
        "etl/load  -          date    -       -",
        "hello     -          -       demo    says hello",
        "",
        "2 jobs listed.",
    ]
    assert apsis("jobs", "--no-legend").out.splitlines()[0].startswith("etl/load")
    assert [job["job_id"] for job in apsis("jobs", "--json").json()["jobs"]] == ["etl/load", "hello"]
    assert [row.split()[0] for row in apsis("jobs", "--path", "etl/", "--no-legend").out.splitlines()] == [
        "etl/load"]
    assert [row.split()[0] for row in apsis("jobs", "--label", "demo", "--no-legend").out.splitlines()] == ["hello"]
    assert apsis("jobs", "--label", "demo", "--label", "other", "--no-legend").out == ""


@with_daemon()
async def test_one_job_with_its_next_and_scheduled_runs(daemon: Daemon) -> None:
    times = [datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours) for hours in (1, 2)]
    daemon.job("etl/load", f"""
        params: [date]
        metadata: {{description: loads, labels: [etl, nightly], owner: data team}}
        schedule: {{type: explicit, times: ["{times[0].isoformat()}", "{times[1].isoformat()}"],
                    args: {{date: "2026-03-09"}}}}
        program: "echo {{{{ date }}}}"
    """)
    await daemon.start()
    await daemon.wait_runs(lambda runs: len(runs) == 2, "etl/load", "its runs scheduled")
    shown = apsis("--utc", "job", "etl/load")
    assert shown.code == 0, shown
    assert "            Job: etl/load" in shown.out
    assert "    Description: loads" in shown.out and "         Labels: etl, nightly" in shown.out
    assert "          owner: data team" in shown.out and "         Params: date" in shown.out
    assert "      Schedules: {type: explicit" in shown.out
    assert f"    Next elapse: {times[0].strftime('%a %Y-%m-%d %H:%M:%S')} UTC  date=2026-03-09" in shown.out
    assert "Scheduled runs: 2" in shown.out and shown.out.count(" scheduled ") == 2
    body = apsis("job", "etl/load", "--json").json()
    assert body["job"]["job_id"] == "etl/load" and len(body["scheduled"]) == 2
    missing = apsis("job", "nope")
    assert (missing.code, missing.out) == (2, "") and missing.err.startswith("apsis: no job nope")


@with_daemon()
async def test_runs_show_log_and_output(daemon: Daemon) -> None:
    daemon.job("talk", f"""
        params: [who]
        schedule: {{type: explicit, times: ["{soon(3)}"], args: {{who: ops}}}}
        program: "printf 'hello %s\\\\n' {{{{ who }}}}; printf 'caf\\\\351\\\\n' >&2; exit 3"
    """)
    daemon.job("later", 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n')
    await daemon.start()
    (run,) = await daemon.wait_runs(finished(1), "talk")
    listed = apsis("runs", "--job", "talk")
    assert listed.code == 0, listed
    head, line, _, legend = listed.out.splitlines()
    assert head.split() == ["RUN", "STATE", "JOB", "ARGS", "SCHEDULED", "ELAPSED", "RESULT"]
    assert line.split()[:4] == [run.id, "failure", "talk", "who=ops"] and line.endswith("exit 3")
    assert legend == "1 run listed."
    assert line.split()[7] in ("CET", "CEST")  # the local zone ($TZ), shown
    assert apsis("--utc", "runs", "--job", "talk").out.splitlines()[1].split()[7] == "UTC"
    assert apsis("runs", "--job", "talk", "--utc").out.splitlines()[1].split()[7] == "UTC"
    body = apsis("runs", "--state", "failure", "--json").json()
    assert [found["run_id"] for found in body["runs"]] == [run.id]
    assert apsis("runs", "--state", "scheduled", "-n", "1", "--json").json()["runs"][0]["job_id"] == "later"
    bad = apsis("runs", "--state", "sleeping")
    assert bad.code == 2 and "'sleeping' is not one of" in bad.err

    shown = apsis("show", run.id)
    assert shown.code == 0, shown
    assert f"            Run: {run.id}" in shown.out and "          State: failure (exit code 3)" in shown.out
    assert "         Result: exit 3 (systemd: exit-code)" in shown.out
    assert f"           Unit: apsis-{run.id}.service" in shown.out
    assert apsis("show", run.id, "--json").json()["exit_code"] == 3

    log = apsis("log", run.id)
    assert log.code == 0, log
    assert [entry.split()[4] for entry in log.out.splitlines()][-1] == "failure"
    assert [entry["state"] for entry in apsis("log", run.id, "--json").json()["log"] if entry["state"]] == [
        "scheduled", "starting", "running", "failure"]

    output = subprocess.run([APSIS, "output", run.id], capture_output=True, timeout=30)
    assert (output.returncode, output.stdout) == (0, b"hello ops\ncaf\xe9\n")

    for command in (["show", "r999999"], ["log", "r999999"], ["output", "r999999"]):
        unknown = apsis(*command)
        assert (unknown.code, unknown.out, unknown.err) == (2, "", "apsis: no run r999999\n"), command


@with_daemon()
async def test_runs_filtered_by_time_path_label_and_arg(daemon: Daemon) -> None:
    one, two, three = (datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours) for hours in (1, 2, 3))
    daemon.job("etl/a", f"""
        params: [day]
        metadata: {{labels: [x]}}
        schedule:
          - {{type: explicit, times: ["{one.isoformat()}"], args: {{day: mon}}}}
          - {{type: explicit, times: ["{three.isoformat()}"], args: {{day: mon}}}}
        program: "true"
    """)
    daemon.job("other", f'schedule: {explicit(two)}\nprogram: "true"\n')
    await daemon.start()
    await daemon.wait_runs(lambda runs: len(runs) == 3, what="three runs scheduled")

    def listed(*options: str) -> list[str]:
        return sorted(run["job_id"] + "@" + run["times"]["schedule"][11:13]
                      for run in apsis("runs", *options, "--json").json()["runs"])

    assert len(listed("--path", "etl/")) == 2 and listed("--label", "x") == listed("--path", "etl")
    assert len(listed("--arg", "day=mon")) == 2 and listed("--arg", "day=tue") == []
    assert [entry.split("@")[0] for entry in listed("--since", "+90m", "--until", "+150m")] == ["other"]
    assert len(listed("--since", "now", "--until", "+4h")) == 3
    assert len(listed("--changed-since", "-1m")) == 3 and listed("--changed-until", "-1h") == []
    by_time = [run["job_id"] + "@" + run["times"]["schedule"][11:13]
               for run in apsis("runs", "--order", "time", "--json").json()["runs"]]
    assert by_time == [f"etl/a@{three:%H}", f"other@{two:%H}", f"etl/a@{one:%H}"]
    assert listed("--origin", "schedule", "--origin", "adhoc") == listed() and listed("--origin", "manual") == []
    assert listed("--host", "local") == []  # none has started: none is on a host yet
    newest, older = apsis("runs", "-n", "1", "--json").json(), apsis("runs", "-n", "1")
    assert older.out.splitlines()[-1] == f"1 run listed; older ones: --before {newest['next']}."
    paged = apsis("runs", "--before", newest["next"], "-n", "5", "--json").json()
    assert len(paged["runs"]) == 2 and paged["next"] is None
    bad = apsis("runs", "--since", "yesterday")
    assert (bad.code, bad.err.split(";")[0]) == (2, "apsis: --since: 'yesterday' is not a time")
    assert apsis("runs", "--arg", "day").err == "apsis: --arg: 'day' is not K=V, such as --arg date=2026-03-09\n"


COMMANDS = [["status"], ["jobs"], ["job", "a"], ["runs"], ["show", "r1"], ["log", "r1"], ["output", "r1"],
            ["run", "hello"], ["start", "r1"], ["skip", "r1"], ["stop", "r1"], ["rerun", "r1"], ["signal", "r1", "HUP"],
            ["mark", "r1", "success"], ["reload"], ["watch"], ["check"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
def test_apsisd_not_running_is_said_plainly(command: list[str]) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(SOCKET)  # what an apsisd killed earlier in the sandbox left
    result = apsis(*command)
    assert (result.code, result.out, result.err) == (
        2, "", "apsis: apsisd is not running: no socket at /run/apsis/api.sock (start it: systemctl start apsisd)\n")


@with_daemon()
async def test_an_apsisd_killed_leaves_a_socket_nobody_listens_on(daemon: Daemon) -> None:
    await daemon.start()
    await daemon.kill()
    assert os.path.exists(SOCKET)
    result = apsis("runs")
    assert (result.code, result.err) == (2, "apsis: apsisd is not running: nothing listens on /run/apsis/api.sock "
                                            "(start it: systemctl start apsisd)\n")
    run = apsis("run", "--wait", "--shell", "true")
    assert (run.code, run.err) == (125, result.err)  # with --wait, apsis's own failure is 125, as timeout(1)'s


def test_a_url_that_is_not_an_address() -> None:
    result = apsis("--url", "localhost:5050", "status")
    assert (result.code, result.err) == (2, "apsis: 'localhost:5050' is not an address; write "
                                            "unix:/run/apsis/api.sock, http://HOST:PORT or https://HOST:PORT\n")
    result = apsis("status", env={"APSIS_URL": "http://127.0.0.1:9"})
    assert (result.code, result.err) == (2, "apsis: apsisd is not running: http://127.0.0.1:9 refused the "
                                            "connection (is apsisd running there, and listening on TCP?)\n")


def as_nobody(folder: Path, *args: str) -> Result:
    """`apsis ARGS...` as user nobody, who may not be able to read this checkout's virtualenv (its python may live
    under /root): then the system's python runs it, with the packages apsis imports copied where nobody reads."""
    command = [APSIS]
    root = Path(apsisd.__file__).parents[1]
    try:
        readable = subprocess.run([APSIS, "--help"], user="nobody", capture_output=True, cwd="/").returncode == 0
    except PermissionError:
        readable = False
    if not readable:
        importlib.import_module("apsisd.cli.main")  # so sys.modules holds all it imports
        folder.mkdir(mode=0o755, exist_ok=True)
        paths = sysconfig.get_paths()
        sites = [Path(paths["purelib"]), Path(paths["platlib"])]
        for name, module in list(sys.modules.items()):
            path = Path(getattr(module, "__file__", None) or root / "apsisd")
            standard = path.is_relative_to(paths["stdlib"]) and not any(path.is_relative_to(site) for site in sites)
            if "." in name or standard or path.is_relative_to(root / "apsisd"):
                continue  # a submodule, the standard library, a built-in or apsis itself
            source = path.parent if path.name == "__init__.py" else path
            if not (folder / source.name).exists():
                (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / source.name)
        command = ["/usr/bin/python3", "-c", "import sys; from apsisd.cli.main import main; sys.argv[0] = 'apsis'; "
                                             "main()"]
    proc = subprocess.run([*command, *args], user="nobody", group="nogroup", capture_output=True, text=True,
                          timeout=60, cwd="/", env=environment({"PYTHONPATH": f"{folder}:{root}"}))
    return Result(proc.returncode, proc.stdout, proc.stderr)


@with_daemon()
async def test_a_caller_apsisd_refuses_is_told_so(daemon: Daemon) -> None:
    daemon.job("hello", 'program: "true"\n')
    await daemon.start(*daemon.config('[api]\nothers = "read"\n'))
    folder = Path(tempfile.mkdtemp(prefix="apsis-nobody-"))  # not under pytest's folder: nobody cannot enter it
    try:
        folder.chmod(0o755)
        reads = as_nobody(folder / "site", "jobs", "--json")
        assert [job["job_id"] for job in reads.json()["jobs"]] == ["hello"]
        refused = as_nobody(folder / "site", "run", "hello")
        assert refused.code == 2 and refused.err.startswith("apsis: not allowed: uid 65534 "), refused
        assert refused.err.endswith("may read, not operate (the right operate is held by root, apsisd's user and the "
                                    "group apsis)\n")
        await daemon.stop()
        await daemon.start()  # others = "none"
        refused = as_nobody(folder / "site", "status")  # the socket (0660) keeps them out
        assert (refused.code, refused.err) == (
            2, "apsis: not allowed: cannot open /run/apsis/api.sock: permission denied (ask to join the group "
               "allowed to use apsis)\n")
    finally:
        shutil.rmtree(folder)


def test_every_command_has_help() -> None:
    listing = apsis("--help").out
    commands = [line.split()[0] for line in listing.split("Commands:\n")[1].splitlines() if line.strip()]
    assert len(commands) >= 20
    for command in commands:
        helped = apsis(command, "--help")
        assert helped.code == 0 and "Usage: apsis " + command in helped.out, command
        body = helped.out.split("\n\n")[1].strip()
        assert body and not body.startswith("Options:"), command


@with_daemon()
async def test_output_followed_live_and_split_streams(daemon: Daemon) -> None:
    gate = daemon.root / "gate"
    daemon.job("talk", f'program: "echo one; while [ ! -e {gate} ]; do sleep 0.1; done; echo two"\n')
    # Two streams keep no order between lines written within milliseconds (docs/api.md, Output): a pause gives one.
    daemon.job("split", 'program: {type: shell, command: "echo out; sleep 0.3; echo err >&2", output: {split: true}}\n')
    await daemon.start()
    run_id = apsis("run", "talk").out.split()[0]
    with Running("output", "-f", run_id) as following:
        following.wait_for("one\n")
        gate.touch()
        result = following.finish()
    assert (result.code, result.out, result.err) == (0, "one\ntwo\n", "")
    split = apsis("run", "split").out.split()[0]
    await daemon.wait_runs(finished(1), "split")
    assert [apsis("output", split, *option).out for option in ([], ["--stdout"], ["--stderr"])] == [
        "out\nerr\n", "out\n", "err\n"]
    refused = apsis("output", run_id, "--stderr")
    assert refused.code == 2 and refused.err.startswith(f"apsis: run {run_id} keeps stdout and stderr as one stream")


@with_daemon()
async def test_show_says_what_a_waiting_run_depends_on(daemon: Daemon) -> None:
    daemon.job("etl/extract", 'params: [date]\nprogram: "exit 1"\n')
    daemon.job("etl/load", """
        params: [date]
        condition: [{type: dependency, job_id: etl/extract}]
        program: "true"
    """)
    await daemon.start()
    failed = apsis("run", "--wait", "-q", "etl/extract", "date=2026-03-09")
    assert failed.code == 1, failed
    extract = apsis("runs", "--job", "etl/extract", "--json").json()["runs"][0]["run_id"]
    load = apsis("run", "etl/load", "date=2026-03-09").out.split()[0]
    await daemon.wait_runs(lambda runs: runs[0].state is State.WAITING, "etl/load", "the load waiting")
    shown = apsis("show", load)
    assert (f"     Depends on: etl/extract(date=2026-03-09) is success: not satisfied; its runs: {extract}"
            in shown.out), shown
