"""apsisd end to end: hostile files dropped into the jobs folder are problems, never the end of apsisd.

Before: a billion-laughs file, deep nesting or a size of 400 digits made
POST /api/v1/reload answer 500, and in the folder watch killed apsisd; at
start, any file with problems made apsisd exit 1 (under Restart=, a loop).
"""
from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.integration import api
from tests.integration.daemon import Daemon, with_daemon

LAUGHS = "\n".join([
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]" for prev, name in zip("abcdefgh", "bcdefghi", strict=True)),
]) + "\n"
LATER = """\
schedule: {type: interval, interval: 3s}
program: "true"
"""
HOSTILE = {
    "laughs.yaml": LAUGHS + "program: x\n",
    "deep.yaml": "program: " + "[" * 900 + "]" * 900 + "\n",
    "size.yaml": "program: {type: shell, command: x, limits: {memory: '" + "9" * 400 + "M'}}\n",
    "timeout.yaml": "program: {type: shell, command: x, timeout: " + "1" * 15_000 + "x}\n",
    "holidays.calendar.yaml": LAUGHS,
}


def _successes(runs: list[Run]) -> int:
    return sum(run.state is State.SUCCESS for run in runs)


def _drop(folder: Path) -> None:
    for name, text in HOSTILE.items():
        (folder / name).write_text(text)


def _named_each(errors: list[str], folder: Path) -> None:
    """Each hostile file has a FILE:LINE problem among `errors`."""
    for name in HOSTILE:
        assert any(error.startswith(f"{folder / name}:") and error.split(":")[1].isdigit() for error in errors), (
            name, errors)


@with_daemon()
async def test_hostile_files_leave_apsisd_up_and_are_problems_at_reload_and_start(daemon: Daemon) -> None:
    daemon.job("tick", """
        schedule: {type: interval, interval: 1s}
        program: "true"
    """)
    daemon.job("later", LATER)
    await daemon.start()
    await daemon.wait_runs(lambda runs: _successes(runs) >= 1, "tick", "tick running")

    _drop(daemon.jobs)  # the folder watch reloads
    await daemon.wait_log("reload (the jobs folder changed) refused")
    assert (await api.get("/api/v1/health"))[0] == 200
    status, body = await api.post("/api/v1/reload")
    assert status == 422 and body["applied"] is False, body
    _named_each(body["errors"], daemon.jobs)
    ticks = _successes(await daemon.runs("tick"))
    await daemon.wait_runs(lambda runs: _successes(runs) >= ticks + 2, "tick", "the jobs in force still running")

    # The folder itself gone (moved away), then back: refused, then reloaded; apsisd up throughout.
    away = daemon.root / "jobs.away"
    daemon.jobs.rename(away)
    status, body = await api.post("/api/v1/reload")
    assert status == 422 and body["errors"] == [f"{daemon.jobs}: not a folder of job files"], body
    assert (await api.get("/api/v1/health"))[0] == 200
    away.rename(daemon.jobs)
    for name in HOSTILE:
        (daemon.jobs / name).unlink()
    status, body = await api.post("/api/v1/reload")
    assert (status, body["errors"]) == (200, []), body

    # Restarted with them in the folder, and a job in force broken: apsisd starts with the job that loads (no
    # traceback, no 700 MiB), says what is wrong, and holds the broken job with its runs as stored.
    assert await daemon.stop() == 0
    pending = [run for run in await daemon.runs("later") if run.state is State.SCHEDULED]
    assert pending, await daemon.runs("later")
    _drop(daemon.jobs)
    (daemon.jobs / "later.yaml").write_text(HOSTILE["deep.yaml"])
    broken = sorted([*HOSTILE, "later.yaml"])
    before = len(daemon.log())
    await daemon.start()
    log = daemon.log()[before:]
    assert "Traceback" not in log, log[-3000:]
    for name in broken:
        assert log.count(f"{daemon.jobs / name}:") == 1, name  # each problem logged once, as FILE:LINE
    status, health = await api.get("/api/v1/health")
    assert status == 200 and health["status"] == "degraded" and health["scheduling"] and health["jobs"] == 1, health
    assert health["jobs_folder"]["files"] == [str(daemon.jobs / name) for name in broken], health
    assert health["jobs_folder"]["held"] == ["deep", "later", "laughs", "size", "timeout"], health
    status, check = await api.get("/api/v1/check")
    assert status == 200 and not check["ok"] and check["held_jobs"] == health["jobs_folder"]["held"], check
    _named_each(check["job_file_problems"], daemon.jobs)
    ticks = _successes(await daemon.runs("tick"))
    await daemon.wait_runs(lambda runs: _successes(runs) >= ticks + 2, "tick", "the job that loads, scheduled")
    first = min(run.schedule_time for run in pending)
    await daemon.wait_runs(lambda runs: datetime.now(UTC) > first + timedelta(seconds=1), "tick", "a held run due")
    stored = {run.id: run for run in await daemon.runs("later")}
    assert all(stored[run.id].state is State.SCHEDULED for run in pending), stored  # not withdrawn, nor started

    # The file fixed, the others gone: the reload takes the held job up, its runs as stored, and it runs again.
    for name in HOSTILE:
        shutil.move(daemon.jobs / name, daemon.root / name)
    (daemon.jobs / "later.yaml").write_text(LATER)
    done = _successes(await daemon.runs("later"))
    status, body = await api.post("/api/v1/reload")
    assert status == 200 and body["added"] == ["later"] and body["applied"], body
    assert body["removed"] == ["deep", "laughs", "size", "timeout"], body
    status, health = await api.get("/api/v1/health")
    assert status == 200 and health["status"] == "ok" and "jobs_folder" not in health, health
    runs = await daemon.wait_runs(lambda runs: _successes(runs) > done, "later", "the held job running again")
    assert {run.id for run in pending} <= {run.id for run in runs}
    assert await daemon.stop() == 0

    # A jobs folder that is not there is still the end: there is nothing to schedule.
    daemon.jobs.rename(away)
    await daemon.start(ready=False)
    assert await daemon.wait_exit(timeout=30) == 1
    assert f"apsisd: {daemon.jobs}: not a folder of job files" in daemon.log()
