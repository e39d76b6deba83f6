"""`apsis` against a real apsisd, operating: run (of a job, ad hoc, --at, --wait and its exit statuses), start,
skip, stop, rerun, signal, mark, reload; and each refusal as apsisd words it."""
from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta

from apsisd.runs.state import State
from tests.integration.apsis_cli import Running, apsis
from tests.integration.daemon import Daemon, finished, with_daemon


@with_daemon()
async def test_run_a_job_now_later_and_its_errors(daemon: Daemon) -> None:
    daemon.job("greet", 'params: [who]\nprogram: "echo hello {{ who }}"\n')
    await daemon.start()
    made = apsis("run", "greet", "who=ops")
    assert made.code == 0, made
    run_id, rest = made.out.split(" ", 1)
    assert run_id.startswith("r") and rest.startswith("greet who=ops: scheduled, for ")
    assert rest.rstrip().endswith(("CET", "CEST"))
    await daemon.wait_runs(finished(1), "greet")
    two = apsis("run", "greet", "who=a=b", "--count", "2", "--json").json()["runs"]
    assert [(run["args"], run["origin"]) for run in two] == [({"who": "a=b"}, "manual")] * 2
    later = apsis("run", "greet", "who=x", "--at", "+1h", "--json").json()["runs"][0]
    due = datetime.fromisoformat(later["times"]["schedule"])
    assert abs(due - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)
    assert later["state"] == "scheduled"

    for args, message in [
        (["greet", "whom=x"], "apsis: job greet takes args who; missing: who; not params: whom\n"),
        (["nope"], "apsis: no job nope in the jobs folder\n"),
        (["greet", "ops"], "apsis: 'ops' is not an arg; write them as K=V after the job, such as date=2026-03-09\n"),
        ([], "apsis: give a job to run (apsis run JOB [K=V]...), --shell 'CMD', or -- ARGV...\n"),
        (["greet", "--shell", "true"], "apsis: give either a job (or an argv after --) or --shell CMD, not both\n"),
        (["greet", "who=x", "--name", "n"], "apsis: --name names an ad hoc run (--shell or -- ARGV); a job's runs "
                                            "have its id\n"),
    ]:
        refused = apsis("run", *args)
        assert (refused.code, refused.out, refused.err) == (2, "", message), args
    bad_time = apsis("run", "greet", "who=x", "--at", "soon")
    assert bad_time.code == 2 and bad_time.err.startswith("apsis: --at: 'soon' is not a time; use now, +DURATION")
    waits_for_two = apsis("run", "greet", "who=x", "--count", "2", "--wait")
    assert (waits_for_two.code, waits_for_two.err) == (125, "apsis: --wait follows one run; leave out --count\n")


@with_daemon()
async def test_run_wait_streams_the_output_and_exits_as_the_run_did(daemon: Daemon) -> None:
    daemon.job("greet", 'params: [who]\nprogram: "echo hello {{ who }}"\n')
    daemon.job("slow", 'program: {type: shell, command: "sleep 30", timeout: 1s}\n')
    await daemon.start()
    failing = apsis("run", "--wait", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (failing.code, failing.out) == (7, "out\nerr\n"), failing
    first, last = failing.err.splitlines()
    assert first.startswith("Running as r") and first.endswith("(adhoc); Ctrl-C stops waiting, not the run.")
    assert last.startswith("Finished r") and ": failure (exit 7), ran " in last
    killed = apsis("run", "--wait", "--shell", "kill -TERM $$", "--name", "killer")
    assert killed.code == 128 + signal.SIGTERM, killed
    greeted = apsis("run", "--wait", "-q", "greet", "who=ops")
    assert (greeted.code, greeted.out, greeted.err) == (0, "hello ops\n", "")
    timed_out = apsis("run", "--wait", "-q", "slow")
    assert timed_out.code == 124, timed_out
    as_json = apsis("run", "--wait", "-q", "--json", "--shell", "echo not shown; exit 4")
    assert as_json.code == 4 and '"exit_code": 4' in as_json.out and "not shown" not in as_json.out
    missing = apsis("run", "--wait", "nope")
    assert (missing.code, missing.err) == (125, "apsis: no job nope in the jobs folder\n")


@with_daemon()
async def test_run_wait_for_a_later_run_that_is_skipped(daemon: Daemon) -> None:
    await daemon.start()
    with Running("run", "--wait", "--at", "+1h", "--shell", "true") as waiting:
        waiting.wait_for("Running as r", err=True)
        run_id = waiting.errors().split("Running as ")[1].split()[0]
        skipped = apsis("skip", run_id)
        assert (skipped.code, skipped.out) == (0, f"{run_id}: skipped\n")
        result = waiting.finish()
    assert result.code == 125 and result.err.splitlines()[-1].startswith(f"apsis: {run_id} ended skipped: skipped by")


@with_daemon()
async def test_run_wait_goes_on_across_an_apsisd_restart(daemon: Daemon) -> None:
    await daemon.start()
    gate = daemon.root / "gate"
    with Running("run", "--wait", "--shell", f"echo before; while [ ! -e {gate} ]; do sleep 0.1; done; echo after; "
                                             "exit 5") as waiting:
        waiting.wait_for("before\n")
        await daemon.stop()
        waiting.wait_for("trying again every 0.5s", err=True)
        await daemon.start()
        waiting.wait_for("reached apsisd again", err=True)
        gate.touch()
        result = waiting.finish()
    assert (result.code, result.out) == (5, "before\nafter\n"), result


@with_daemon()
async def test_skip_start_stop_signal_mark_and_rerun(daemon: Daemon) -> None:
    daemon.job("later", 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n')
    daemon.job("long", "program: \"trap 'echo got USR1' USR1; while :; do sleep 0.1; done\"\n")
    await daemon.start()
    first, second, third, *_ = await daemon.wait_runs(lambda runs: len(runs) >= 3, "later", "scheduled runs")
    skipped = apsis("skip", first.id, second.id)
    assert (skipped.code, skipped.out) == (0, f"{first.id}: skipped\n{second.id}: skipped\n")
    again = apsis("skip", first.id)
    assert (again.code, again.err) == (2, f"apsis: run {first.id} is skipped; it cannot become skipped (only a "
                                          "scheduled or waiting run can be skipped)\n")
    some = apsis("skip", third.id, first.id, "r999999", "--json")
    assert some.code == 2 and [run["run_id"] for run in json.loads(some.out)] == [third.id]
    assert some.err.splitlines() == [again.err.rstrip("\n"), "apsis: no run r999999"]

    long = apsis("run", "long").out.split()[0]
    await daemon.wait_runs(lambda runs: bool(runs) and runs[0].state is State.RUNNING, "long", "running")
    sent = apsis("signal", long, "USR1")
    assert (sent.code, sent.out) == (0, f"{long}: sent USR1\n")
    bad = apsis("signal", long, "NOSUCH")
    assert bad.code == 2 and bad.err.startswith("apsis: ") and "NOSUCH" in bad.err
    stopped = apsis("stop", long)
    assert stopped.code == 0 and stopped.out.startswith(f"{long}: ")
    (ended,) = await daemon.wait_runs(finished(1), "long")
    assert ended.state is State.FAILURE
    again = apsis("stop", long)
    assert again.code == 2 and again.err.startswith(f"apsis: run {long} is failure; it cannot become stopping")
    assert "got USR1\n" in apsis("output", long).out  # the shell's trap; its sleep died of it
    assert apsis("signal", long, "HUP").err.startswith(f"apsis: run {long} is failure")
    marked = apsis("mark", long, "success")
    assert (marked.code, marked.out) == (0, f"{long}: success\n")
    assert apsis("mark", long, "failure", "--json").json()["state"] == "failure"
    assert apsis("mark", long, "success", "--json").json()["state"] == "success"
    assert "marked as success" in apsis("log", long).out
    not_a_state = apsis("mark", long, "running")
    assert not_a_state.code == 2 and "'running' is not one of" in not_a_state.err
    rerun = apsis("rerun", long, "r999999")
    assert rerun.code == 2 and rerun.out.startswith(f"{long}: rerun as r") and rerun.err == "apsis: no run r999999\n"
    new = rerun.out.split("rerun as ")[1].split()[0]
    assert apsis("show", new, "--json").json()["previous"] == long
    apsis("stop", new)

    started = apsis("start", third.id)  # skipped: refused
    assert started.code == 2 and started.err.startswith(f"apsis: run {third.id} is skipped")
    fourth = (await daemon.runs("later"))[3]
    started = apsis("start", fourth.id)
    assert started.code == 0 and started.out.startswith(f"{fourth.id}: "), started
    await daemon.wait_runs(lambda runs: runs[3].state is State.SUCCESS, "later", "the started run done")


@with_daemon()
async def test_reload_dry_run_apply_and_refuse(daemon: Daemon) -> None:
    daemon.job("one", 'program: "true"\n')
    await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    assert apsis("reload").out == "no changes\n"
    daemon.job("two", 'program: "true"\n')
    daemon.job("three", 'program: "true"\n')
    daemon.remove_job("one")
    dry = apsis("reload", "--dry-run")
    assert (dry.code, dry.out) == (0, "2 jobs would be added: three, two\n1 job would be removed: one\n")
    assert apsis("reload", "--dry-run", "--json").json() == {"added": ["three", "two"], "changed": [],
                                                             "removed": ["one"], "errors": [], "applied": False}
    done = apsis("reload")
    assert (done.code, done.out) == (0, "2 jobs added: three, two\n1 job removed: one\n")
    daemon.job("bad", "program: {type: shell}\n")
    refused = apsis("reload")
    assert (refused.code, refused.out, refused.err) == (
        1, f"{daemon.jobs}/bad.yaml:1: program.command: is required\n",
        "reload refused: 1 problem; the jobs loaded before stay\n")


HOSTILE = "\x1b[2J\x1b]0;pwned\x07\r\nr1  success\x9b31m\u202e"
RAW = ("\x1b", "\r", "\x07", "\x9b", "\u202e")
NAME = "x" + HOSTILE.replace("\n", "")  # an ad hoc run's name may not hold a newline; the rest it may


@with_daemon()
async def test_names_and_args_anyone_gave_reach_no_terminal_raw(daemon: Daemon) -> None:
    daemon.job("greet", "params: [who]\nprogram: {type: exec, argv: [/bin/true, '{{ who }}']}\n")
    await daemon.start()
    outputs = [apsis("run", "greet", f"who={HOSTILE}"), apsis("run", "--name", NAME, "--shell", "true")]
    await daemon.wait_runs(finished(2))
    (first, second) = (line.split()[0] for line in (result.out for result in outputs))
    outputs += [apsis("runs"), apsis("runs", "--json"), apsis("show", first), apsis("show", second),
                apsis("log", second), apsis("show", second, "--json"), apsis("job", HOSTILE),
                apsis("run", f"y{HOSTILE}"), apsis("runs", "--arg", f"who={HOSTILE}")]
    for result in outputs:
        printed = result.out + result.err
        assert not [char for char in RAW if char in printed], result
    assert [line for line in outputs[2].out.splitlines() if r"\x1b[2J" in line] == [
        line for line in outputs[2].out.splitlines() if line.startswith(("r", "R"))][1:]  # each run's row, one line
    assert {run["run_id"]: run["args"] for run in json.loads(outputs[3].out)["runs"]}[first] == {"who": HOSTILE}
    assert "Job: x\\x1b[2J" in outputs[5].out
