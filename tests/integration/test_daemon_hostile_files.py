"""apsisd end to end: hostile files dropped into the jobs folder are problems, never the end of apsisd.

Before: a billion-laughs file, deep nesting or a size of 400 digits made
POST /api/v1/reload answer 500, and in the folder watch killed apsisd.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.integration import api
from tests.integration.daemon import Daemon, with_daemon

LAUGHS = "\n".join([
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]" for prev, name in zip("abcdefgh", "bcdefghi", strict=True)),
]) + "\n"
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
async def test_hostile_files_leave_apsisd_up_and_are_problems(daemon: Daemon) -> None:
    daemon.job("tick", """
        schedule: {type: interval, interval: 1s}
        program: "true"
    """)
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

    # Started with them in the folder: refused at once with each problem (no traceback, no 700 MiB), as any
    # folder with errors is at start; started again once they are gone.
    assert await daemon.stop() == 0
    _drop(daemon.jobs)
    await daemon.start(ready=False)
    assert await daemon.wait_exit(timeout=30) == 1
    log = daemon.log()
    assert "Traceback" not in log and "has 5 problems; fix them and start again" in log, log[-3000:]
    for name in HOSTILE:
        assert f"{daemon.jobs / name}:" in log
    for name in HOSTILE:
        shutil.move(daemon.jobs / name, daemon.root / name)
    await daemon.start()
    ticks = _successes(await daemon.runs("tick"))
    await daemon.wait_runs(lambda runs: _successes(runs) > ticks, "tick", "tick running again")
    assert await daemon.stop() == 0
