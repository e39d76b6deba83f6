"""The live stream: a snapshot to start from, every change as it comes, and resuming after a reconnect or an
apsisd restart without missing one."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.api import events, get, post
from tests.integration.daemon import Daemon, finished, with_daemon


def run_ids(stream_events: list) -> list[str]:
    return [event.data["run_id"] for event in stream_events if event.name == "run"]


@with_daemon()
async def test_a_snapshot_then_each_change_of_a_run_as_it_happens(daemon: Daemon) -> None:
    daemon.job("etl/one", 'program: "true"\n')
    daemon.job("other", 'program: "true"\n')
    await daemon.start()
    _, made = await post("/api/v1/runs", {"job_id": "other"})
    await daemon.wait_runs(finished(1), "other")
    async with events("?job=etl/") as stream:
        hello = await stream.next()
        assert (hello.name, hello.data["resume"]) == ("hello", "none")
        snapshot = await stream.next()
        assert snapshot.name == "snapshot"
        assert [job["job_id"] for job in snapshot.data["jobs"]] == ["etl/one"]
        assert snapshot.data["runs"] == []  # the run of `other` is not under etl/
    in_2h = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    _, later = await post("/api/v1/runs", {"job_id": "etl/one", "at": in_2h})
    for query, shown in (("?job=etl/&recent=0", []), ("?job=etl/&recent=0&ahead=86400", later["runs"])):
        async with events(query) as stream:
            await stream.next()
            assert (await stream.next()).data["runs"] == shown  # a run due beyond `ahead` is left out
    async with events("?job=etl/") as stream:
        await stream.until("snapshot")
        _, made = await post("/api/v1/runs", {"job_id": "etl/one"})
        (run_id,) = [run["run_id"] for run in made["runs"]]
        seen = await stream.until("run", lambda run: run["state"] == "success")
        states = [event.data["state"] for event in seen if event.name == "run"]
        assert states == ["scheduled", "starting", "running", "success"]
        assert set(run_ids(seen)) == {run_id}
        ids = [event.id for event in seen]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


@with_daemon()
async def test_a_client_that_reconnects_gets_exactly_what_it_missed(daemon: Daemon) -> None:
    daemon.job("quick", 'program: "true"\n')
    await daemon.start()
    async with events() as stream:
        await stream.until("snapshot")
        await post("/api/v1/runs", {"job_id": "quick"})
        await stream.until("run", lambda run: run["state"] == "success")
        last = stream.last_id
    assert last is not None
    _, made = await post("/api/v1/runs", {"job_id": "quick", "count": 3})
    await daemon.wait_runs(finished(4), "quick")
    async with events(last_id=last) as stream:
        hello = await stream.next()
        assert (hello.name, hello.data["resume"]) == ("hello", "exact")
        seen = [await stream.next() for _ in range(12)]  # three runs, four changes each
    assert [event.id for event in seen] == list(range(last + 1, last + 13))
    assert sorted(set(run_ids(seen))) == sorted(run["run_id"] for run in made["runs"])
    assert [event.data["state"] for event in seen if event.data["run_id"] == made["runs"][0]["run_id"]] == [
        "scheduled", "starting", "running", "success"]


@with_daemon()
async def test_after_a_restart_the_stream_resumes_from_the_buffer_or_the_store(daemon: Daemon) -> None:
    daemon.job("long", 'program: "sleep 2"\n')
    daemon.job("quick", 'program: "true"\n')
    await daemon.start()
    async with events() as stream:
        await stream.until("snapshot")
        _, made = await post("/api/v1/runs", {"job_id": "long"})
        (long_id,) = [run["run_id"] for run in made["runs"]]
        await stream.until("run", lambda run: run["state"] == "running")
        seen_all = stream.last_id
        await daemon.stop()  # the stream ends with apsisd; the run goes on in systemd and ends while apsisd is down
        try:
            while True:
                await stream.next()
        except EOFError:
            pass
    await daemon.start()
    # It saw everything before the stop: what came after (the run's end, read back at start) is in the buffer.
    async with events(last_id=seen_all) as stream:
        hello = await stream.next()
        assert hello.data["resume"] == "exact"
        ended = await stream.until("run", lambda run: run["run_id"] == long_id and run["state"] == "success")
        assert ended[-1].id == seen_all + 1
    # One that fell behind long before (its place is older than this apsisd's buffer) gets each run changed since
    # once, as it is now, then every job.
    await post("/api/v1/runs", {"job_id": "quick"})
    await daemon.wait_runs(finished(1), "quick")
    async with events(last_id=seen_all - 3) as stream:
        hello = await stream.next()
        assert hello.data["resume"] == "changes"
        seen = await stream.until("jobs")
    latest = {event.data["run_id"]: event.data["state"] for event in seen if event.name == "run"}
    assert latest[long_id] == "success" and "success" in latest.values()
    assert len(run_ids(seen)) == len(latest)  # each run once
    assert seen[-1].data["all"] is True and [job["job_id"] for job in seen[-1].data["changed"]] == ["long", "quick"]


@with_daemon()
async def test_a_reload_is_a_jobs_event_and_a_bad_place_is_refused(daemon: Daemon) -> None:
    daemon.job("one", 'program: "true"\n')
    await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    async with events() as stream:
        await stream.until("snapshot")
        daemon.job("two", 'program: "true"\n')
        await post("/api/v1/reload")
        (change,) = [event for event in await stream.until("jobs")]
    assert ([job["job_id"] for job in change.data["added"]], change.data["removed"]) == (["two"], [])
    assert (await get("/api/v1/events?since=soon"))[0] == 400
    assert (await get("/api/v1/events?bogus=1"))[0] == 400
