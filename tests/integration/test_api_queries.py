"""The API's queries against a real apsisd: the runs list with every filter and its pages, the jobs list, one job
with its next runs, a run's dependencies before and after they are met, and the 400s and 404s."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from apsisd.runs.state import State
from tests.integration.daemon import Daemon, finished, with_daemon

SOCKET = "/run/apsis/api.sock"
NO_WATCH = "[reload]\nwatch = false\n"
Params = list[tuple[str, str]]


async def call(method: str, path: str, params: Params | None = None, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET)) as session:
        async with session.request(method, f"http://apsis{path}", params=params, json=body) as response:
            return response.status, await response.json()


async def get(path: str, *params: tuple[str, str]) -> tuple[int, Any]:
    return await call("GET", path, list(params))


async def ids(*params: tuple[str, str]) -> list[str]:
    """The ids of the runs list's first page for these parameters (asserting a 200)."""
    status, body = await get("/api/v1/runs", *params)
    assert status == 200, body
    return [run["run_id"] for run in body["runs"]]


async def error(path: str, *params: tuple[str, str], status: int = 400) -> str:
    got, body = await get(path, *params)
    assert got == status, (got, body)
    return str(body["error"])


async def create(job_id: str, args: dict[str, str] | None = None, at: datetime | None = None) -> str:
    body: dict[str, Any] = {"job_id": job_id, "args": args or {}}
    if at is not None:
        body["at"] = at.isoformat()
    status, made = await call("POST", "/api/v1/runs", body=body)
    assert status == 201, made
    return str(made["runs"][0]["run_id"])


def newest_first(*run_ids: str) -> list[str]:
    return sorted(run_ids, key=lambda run_id: -int(run_id[1:]))



async def every_page(params: Params) -> list[list[str]]:
    """The run ids of each page of /api/v1/runs with `params`, following `next` (the last run of each page, as
    `before`) until it is null."""
    pages: list[list[str]] = []
    query = params
    while True:
        status, page = await get("/api/v1/runs", *query)
        assert status == 200
        pages.append([run["run_id"] for run in page["runs"]])
        if page["next"] is None:
            return pages
        assert page["next"] == pages[-1][-1]
        query = [*params, ("before", page["next"])]

@with_daemon()
async def test_the_runs_list_with_every_filter_and_its_pages(daemon: Daemon) -> None:
    daemon.job("greet", 'params: [who, lang]\nprogram: "test {{ who }} != bad"\nmetadata: {labels: [team, hello]}\n')
    daemon.job("etl", 'program: "true"\nmetadata: {labels: [team]}\n')
    daemon.job("etl/load", 'program: "true"\n')
    daemon.job("etla", 'program: "true"\n')
    await daemon.start(*daemon.config(NO_WATCH))
    ann_en = await create("greet", {"who": "ann", "lang": "en"})
    bad_en = await create("greet", {"who": "bad", "lang": "en"})
    ann_fr = await create("greet", {"who": "ann", "lang": "fr"})
    etl, load, etla = await create("etl"), await create("etl/load"), await create("etla")
    await daemon.wait_runs(finished(6))
    now = datetime.now(UTC)
    soon, later = await create("greet", {"who": "cy", "lang": "en"}, now + timedelta(hours=1)), \
        await create("greet", {"who": "cy", "lang": "en"}, now + timedelta(hours=2))
    greets = newest_first(ann_en, bad_en, ann_fr, soon, later)

    assert await ids() == newest_first(ann_en, bad_en, ann_fr, etl, load, etla, soon, later)
    assert await ids(("job", "greet")) == greets
    assert await ids(("path", "etl")) == newest_first(etl, load)
    assert await ids(("path", "etl/")) == [load]
    assert await ids(("label", "team")) == newest_first(*greets, etl)
    assert await ids(("label", "team"), ("label", "hello")) == greets
    assert await ids(("label", "nowhere")) == []
    assert await ids(("arg", "who=ann")) == newest_first(ann_en, ann_fr)
    assert await ids(("arg", "who=ann"), ("arg", "lang=en")) == [ann_en]
    assert await ids(("state", "failure")) == [bad_en]
    assert await ids(("state", "failure"), ("state", "scheduled")) == newest_first(bad_en, soon, later)
    assert await ids(("job", "greet"), ("state", "success")) == newest_first(ann_en, ann_fr)
    assert await ids(("since", (now + timedelta(minutes=90)).isoformat())) == [later]
    assert await ids(("since", now.isoformat()), ("until", (now + timedelta(minutes=90)).isoformat())) == [soon]
    assert await ids(("until", now.isoformat()), ("label", "hello"), ("arg", "lang=en")) == newest_first(ann_en,
                                                                                                        bad_en)

    # The last change: the instant each run's row was last written, as apsisd's clock has it. Every run is at rest
    # now (finished, or due in an hour: creating it answered once it was written), so nothing writes a row again
    # before the skip; the first query says so.
    await daemon.wait_runs(lambda runs: len(runs) == 8 and all(run.finished or run.state is State.SCHEDULED
                                                               for run in runs), what="every run at rest")
    mark = datetime.now(UTC)
    assert await ids(("changed_since", mark.isoformat())) == []
    status, skipped = await call("POST", f"/api/v1/runs/{soon}/skip")
    assert (status, skipped["state"]) == (200, "skipped")
    assert await ids(("changed_since", mark.isoformat())) == [soon]
    assert soon not in await ids(("changed_until", mark.isoformat()))
    assert len(await ids(("changed_until", mark.isoformat()))) == 7
    assert await ids(("changed_since", mark.isoformat()), ("state", "scheduled")) == []

    # Pages: `next` is the `before` of the page after; null on the last, never an empty page promised.
    pages = await every_page([("limit", "3"), ("path", "/")])
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [run_id for page in pages for run_id in page] == await ids()
    status, body = await get("/api/v1/runs", ("job", "greet"), ("limit", "5"))
    assert (len(body["runs"]), body["next"]) == (5, None)
    assert await ids(("before", greets[1]), ("job", "greet")) == greets[2:]

    # Hosts, origins, and the order by schedule time (the two future runs first), paged by the same `before`.
    done = newest_first(ann_en, bad_en, ann_fr, etl, load, etla)
    assert await ids(("host", "local")) == done
    assert await ids(("host", "local"), ("host", "nowhere"), ("state", "failure")) == [bad_en]
    assert await ids(("host", "nowhere")) == []
    assert await ids(("origin", "manual"), ("origin", "adhoc")) == await ids()
    assert await ids(("origin", "schedule")) == []
    by_time = [later, soon, *done]
    assert await ids(("order", "time")) == by_time
    assert await ids(("order", "id")) == await ids()
    assert await ids(("order", "time"), ("job", "greet"), ("host", "local")) == newest_first(ann_en, bad_en, ann_fr)
    pages = await every_page([("order", "time"), ("limit", "3")])
    assert pages == [by_time[:3], by_time[3:6], by_time[6:]]

    # Runs in flight are shown as they are now, with every field of a run.
    status, body = await get("/api/v1/runs", ("job", "greet"), ("state", "scheduled"))
    (shown,) = body["runs"]
    assert (shown["run_id"], shown["state"], shown["args"], shown["origin"]) == (later, "scheduled",
                                                                                 {"who": "cy", "lang": "en"}, "manual")

    # Every refusal says what is wrong.
    assert "unknown parameter 'jobs'" in await error("/api/v1/runs", ("jobs", "greet"))
    assert (await error("/api/v1/runs", ("state", "sleeping"))).startswith("state must be one of")
    for limit in ("0", "10001", "ten"):
        assert "limit must be a whole number from 1 to 10,000" in await error("/api/v1/runs", ("limit", limit))
    assert "limit may be given once" in await error("/api/v1/runs", ("limit", "1"), ("limit", "2"))
    for before in ("12", "r0", "r012", f"r{2**63}"):
        assert "before must be a run id such as r123" in await error("/api/v1/runs", ("before", before))
    assert (await error("/api/v1/runs", ("origin", "cron"))).startswith("origin must be one of schedule, manual")
    assert "order must be id (newest run first) or time" in await error("/api/v1/runs", ("order", "name"))
    assert "order may be given once" in await error("/api/v1/runs", ("order", "id"), ("order", "time"))
    assert "host must be a host's name" in await error("/api/v1/runs", ("host", ""))
    assert "arg must be NAME=VALUE" in await error("/api/v1/runs", ("arg", "who"))
    assert "arg must be NAME=VALUE" in await error("/api/v1/runs", ("arg", "=ann"))
    assert "a run has one value per arg" in await error("/api/v1/runs", ("arg", "who=ann"), ("arg", "who=bob"))
    assert "since must be an ISO 8601 time" in await error("/api/v1/runs", ("since", "yesterday"))
    assert "its offset" in await error("/api/v1/runs", ("until", "2026-11-26T09:30:00"))
    assert "%2B" in await error("/api/v1/runs", ("changed_since", "2026-11-26T09:30:00 01:00"))
    assert "changed_until must be" in await error("/api/v1/runs", ("changed_until", "soon"))
    assert "until must be" in await error("/api/v1/runs", ("until", "0001-01-01T00:00:00+23:59"))  # before year 1


@with_daemon()
async def test_the_jobs_list_and_one_job_with_its_next_runs(daemon: Daemon) -> None:
    daemon.job("etl", 'program: {type: shell, command: "true", timeout: 1h}\nmetadata: {labels: [etl]}\n')
    daemon.job("etl/load", """\
        params: [date, region]
        schedule: {type: interval, interval: 1h, args: {region: eu}}
        program: [/bin/echo, "{{ date }}", "{{ region }}"]
        successors: etl
        metadata:
          description: Loads the day.
          labels: [etl, nightly]
          owner: data
    """)
    daemon.job("etla", 'program: "true"\nmetadata: {labels: [nightly]}\n')
    daemon.job("reports/daily", 'program: "true"\nmetadata: {labels: [nightly, reports]}\n')
    await daemon.start(*daemon.config(NO_WATCH))

    async def listed(*params: tuple[str, str]) -> list[str]:
        status, body = await get("/api/v1/jobs", *params)
        assert status == 200, body
        return [job["job_id"] for job in body["jobs"]]

    assert await listed() == ["etl", "etl/load", "etla", "reports/daily"]
    assert await listed(("path", "etl")) == ["etl", "etl/load"]
    assert await listed(("path", "etl/")) == ["etl/load"]
    assert await listed(("label", "nightly")) == ["etl/load", "etla", "reports/daily"]
    assert await listed(("label", "nightly"), ("label", "etl")) == ["etl/load"]
    assert await listed(("path", "reports"), ("label", "nightly")) == ["reports/daily"]
    assert await listed(("label", "nowhere")) == []
    assert "unknown parameter 'tag'" in await error("/api/v1/jobs", ("tag", "etl"))

    scheduled = await daemon.wait_runs(lambda runs: len(runs) >= 2, "etl/load", "the job's runs scheduled")
    asked = datetime.now(UTC)
    status, one = await get("/api/v1/jobs/etl/load")
    assert status == 200
    assert one["job"] == {
        "job_id": "etl/load", "params": ["date", "region"],
        "schedules": [{"type": "interval", "interval": "1h", "args": {"region": "eu"}}],
        "program": {"type": "exec", "argv": ["/bin/echo", "{{ date }}", "{{ region }}"]},
        "conditions": [], "actions": [{"type": "schedule", "job_id": "etl", "if": {"states": ["success"]}}],
        "retry": None, "scheduling": None, "host": "local",
        "metadata": {"description": "Loads the day.", "labels": ["etl", "nightly"], "owner": "data"},
    }
    times = [datetime.fromisoformat(due["time"]) for due in one["next"]]
    assert len(times) == 10 and times[0] >= asked - timedelta(seconds=5)
    assert all(later - earlier == timedelta(hours=1) for earlier, later in itertools.pairwise(times))
    assert [due["args"] for due in one["next"]] == [{"date": time.date().isoformat(), "region": "eu"}
                                                   for time in times]
    unstarted = [run for run in await daemon.runs("etl/load") if run.state is State.SCHEDULED]
    assert [run["run_id"] for run in one["scheduled"]] == [run.id for run in sorted(
        unstarted, key=lambda run: run.schedule_time)] and len(scheduled) >= 2
    assert {run["state"] for run in one["scheduled"]} == {"scheduled"}

    # A job reworded but not changed: the reload changes nothing, and the job is shown as now written.
    status, etl = await get("/api/v1/jobs/etl")
    assert etl["job"]["program"] == {"type": "shell", "command": "true", "timeout": "1h"} and etl["next"] == []
    daemon.job("etl", 'program: {type: shell, command: "true", timeout: 60m}\nmetadata: {labels: [etl]}\n')
    status, reloaded = await call("POST", "/api/v1/reload")
    assert (status, reloaded["changed"], reloaded["applied"]) == (200, [], False)
    assert (await get("/api/v1/jobs/etl"))[1]["job"]["program"]["timeout"] == "60m"

    assert await error("/api/v1/jobs/etl/lod", status=404) == "no job etl/lod in the jobs folder; did you mean " \
                                                               "etl/load?"
    assert await error("/api/v1/jobs/zzz", status=404) == "no job zzz in the jobs folder"
    assert "unknown parameter 'x'" in await error("/api/v1/jobs/etl", ("x", "1"))


@with_daemon()
async def test_a_runs_dependencies_before_and_after_they_are_met(daemon: Daemon) -> None:
    daemon.job("etl/extract", 'params: [date]\nprogram: "true"\n')
    daemon.job("etl/load", """\
        params: [date]
        program: "true"
        condition:
          - {type: max_running, count: 1}
          - {type: dependency, job_id: etl/extract}
          - {type: dependency, job_id: etl/extract, args: {date: "2020-01-01"}, states: [success, failure]}
    """)
    daemon.job("fan", 'params: [region]\nprogram: "true"\n'
                      'condition: {type: dependency, job_id: "up/{{ region }}"}\n')
    await daemon.start(*daemon.config(NO_WATCH))
    day = {"date": "2026-11-26"}
    waiting = await create("etl/load", day)
    await daemon.wait_runs(lambda runs: runs[0].state is State.WAITING, "etl/load", "the run waiting")
    status, body = await get(f"/api/v1/runs/{waiting}/dependencies")
    assert (status, body) == (200, {"dependencies": [
        {"job_id": "etl/extract", "args": day, "states": ["success"], "satisfied": False, "runs": [],
         "error": None},
        {"job_id": "etl/extract", "args": {"date": "2020-01-01"}, "states": ["success", "failure"],
         "satisfied": False, "runs": [], "error": None},
    ]})

    old = await create("etl/extract", {"date": "2020-01-01"})
    first = await create("etl/extract", day)
    again = await create("etl/extract", day)
    await daemon.wait_runs(finished(3), "etl/extract")
    (loaded,) = await daemon.wait_runs(finished(1), "etl/load")
    assert loaded.state is State.SUCCESS
    status, body = await get(f"/api/v1/runs/{waiting}/dependencies")
    assert [(each["satisfied"], each["runs"]) for each in body["dependencies"]] == [
        (True, newest_first(first, again)), (True, [old])]

    # A template that fails for this run: its entry says why; the others are still answered.
    later = await create("fan", {"region": "mars"}, datetime.now(UTC) + timedelta(hours=1))
    status, body = await get(f"/api/v1/runs/{later}/dependencies")
    (entry,) = body["dependencies"]
    assert status == 200 and (entry["job_id"], entry["satisfied"], entry["runs"]) == ("up/{{ region }}", False, [])
    assert entry["error"] == "condition[0] (dependency): job_id: unknown job 'up/mars'; no such job is loaded"

    assert await error("/api/v1/runs/r999999/dependencies", status=404) == "no run r999999"
    assert await error(f"/api/v1/runs/r{2**64}/dependencies", status=404) == f"no run r{2**64}"
    daemon.remove_job("fan")
    assert (await call("POST", "/api/v1/reload"))[1]["removed"] == ["fan"]
    assert "job fan is not loaded" in await error(f"/api/v1/runs/{later}/dependencies", status=404)
