"""`apsis` against a real apsisd, live and around: watch (a line per change, resuming across a restart, --json,
Ctrl-C), check, and shell completion of job ids, run ids, states and signals."""
from __future__ import annotations

import json
import signal
import subprocess

from tests.integration.apsis_cli import APSIS, Running, apsis, environment
from tests.integration.daemon import Daemon, finished, with_daemon


@with_daemon()
async def test_watch_prints_each_change_and_resumes_after_a_restart(daemon: Daemon) -> None:
    daemon.job("quick", 'params: [n]\nprogram: "true"\n')
    await daemon.start()
    before = apsis("run", "quick", "n=0").out.split()[0]
    await daemon.wait_runs(finished(1), "quick")
    with Running("watch") as watching:
        watching.wait_for(f"  {before}")  # the snapshot: the newest finished runs
        assert "success    quick n=0  exit 0" in watching.text()
        during = apsis("run", "quick", "n=1").out.split()[0]
        for state in ("scheduled", "starting", "running", "success"):
            watching.wait_for(f"  {during:<8}  {state}")
        await daemon.stop()
        watching.wait_for("apsis: apsisd ended the stream; trying again every 0.5s", err=True)
        await daemon.start()
        watching.wait_for("apsis: reached apsisd again; resumed", err=True)
        after = apsis("run", "quick", "n=2").out.split()[0]
        watching.wait_for(f"  {after:<8}  success    quick n=2  exit 0")
        watching.process.send_signal(signal.SIGINT)
        result = watching.finish()
    assert (result.code, "Traceback" in result.err, "Aborted" in result.err) == (0, False, False), result


@with_daemon()
async def test_watch_as_json_lines_for_one_folder(daemon: Daemon) -> None:
    daemon.job("etl/load", 'program: "true"\n')
    daemon.job("other", 'program: "true"\n')
    await daemon.start()
    with Running("watch", "--json", "--job", "etl/") as watching:
        watching.wait_for('"event": "snapshot"')
        apsis("run", "other")
        made = apsis("run", "etl/load").out.split()[0]
        watching.wait_for('"state": "success"')
    events = [json.loads(line) for line in watching.text().splitlines()]
    assert [event["event"] for event in events[:2]] == ["hello", "snapshot"]
    assert events[1]["data"]["jobs"][0]["job_id"] == "etl/load"
    runs = [event for event in events if event["event"] == "run"]
    assert {event["data"]["run_id"] for event in runs} == {made}  # not the run of `other`
    assert [event["data"]["state"] for event in runs] == ["scheduled", "starting", "running", "success"]
    assert all(isinstance(event["id"], int) for event in runs)


@with_daemon()
async def test_check_reports_what_looks_wrong(daemon: Daemon) -> None:
    daemon.job("hello", 'program: "true"\n')
    await daemon.start()
    clean = apsis("check")
    assert (clean.code, clean.out) == (0, "no problems found\n"), clean
    assert apsis("check", "--json").json()["ok"] is True
    # A unit named as apsis names runs, which no run of this apsisd owns.
    subprocess.run(["systemd-run", "--unit", "apsis-r999999", "--", "sleep", "60"], check=True, capture_output=True,
                   timeout=30)
    found = apsis("check")
    assert found.code == 1 and "Units with no run in flight:" in found.out and "apsis-r999999" in found.out, found
    report = json.loads(apsis("check", "--json").out)
    assert report["ok"] is False and report["orphan_units"][0]["unit"].startswith("apsis-r999999")
    bad = apsis("check", "--late", "soon")
    assert bad.code == 2 and bad.err.startswith("apsis: --late: 'soon' is not a duration")


def complete(words: str, url: str | None = None) -> list[str]:
    """What bash would offer after `words` (the last one is being completed)."""
    env = environment({"_APSIS_COMPLETE": "bash_complete", "COMP_WORDS": words,
                       "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
                       **({"APSIS_URL": url} if url else {})})
    proc = subprocess.run([APSIS], capture_output=True, text=True, timeout=30, env=env)
    assert (proc.returncode, proc.stderr) == (0, ""), proc
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line]


@with_daemon()
async def test_completion_of_job_ids_run_ids_states_and_signals(daemon: Daemon) -> None:
    daemon.job("etl/load", 'program: "true"\n')
    daemon.job("etl/clean", 'program: "true"\n')
    daemon.job("hello", 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n')
    await daemon.start()
    done = apsis("run", "etl/load").out.split()[0]
    await daemon.wait_runs(finished(1), "etl/load")
    scheduled = await daemon.wait_runs(lambda runs: bool(runs), "hello", "a scheduled run")
    assert complete("apsis job ") == ["etl/clean", "etl/load", "hello"]
    assert complete("apsis job etl/") == ["etl/clean", "etl/load"]
    assert complete("apsis run h") == ["hello"]
    assert complete("apsis run hello ") == []
    assert complete("apsis runs --job e") == ["etl/clean", "etl/load"]
    assert done in complete("apsis show ") and scheduled[0].id in complete("apsis show ")
    assert complete("apsis skip ") == [run.id for run in reversed(scheduled)]  # only runs that can be skipped
    assert complete("apsis rerun ") == [done]
    assert complete("apsis runs --state s") == ["scheduled", "starting", "stopping", "success", "skipped"]
    assert complete(f"apsis mark {done} ") == ["error", "failure", "skipped", "success"]
    assert complete("apsis signal r1 US") == ["USR1", "USR2"]
    assert complete("apsis comp") == ["completion"]
    await daemon.stop()
    assert complete("apsis job ") == []  # quiet when apsisd is not there
    assert complete("apsis show ", url="unix:/nowhere.sock") == []
    for shell, marker in (("bash", "complete -o nosort -F _apsis_completion apsis"), ("zsh", "#compdef apsis")):
        script = apsis("completion", shell)
        assert script.code == 0 and marker in script.out, script
    assert apsis("completion", "fish").code == 2


def test_completion_of_commands_and_options_needs_no_daemon() -> None:
    assert complete("apsis runs --st", url="unix:/nowhere.sock") == ["--state"]
    assert complete("apsis sh", url="unix:/nowhere.sock") == ["show"]
