"""A real apsisd with a remote host of apsisd.toml (a peer of the sandbox, agentd over ssh): a job whose host: is
the peer, or a group of it and local, runs there and records the host it ran on; a restart follows it there."""
from __future__ import annotations

import asyncio
import socket

from apsisd.runs.state import State
from tests.integration.api import get, post, session
from tests.integration.apsis_cli import apsis
from tests.integration.daemon import Daemon, finished, with_daemon
from tests.sandbox_hosts import link_cut, peers


def remote_config(daemon: Daemon, keepalive: str = "") -> tuple[str, str]:
    peer = peers()[0]
    return daemon.config(f"""
        [ssh]
        known_hosts = "{peer.known_hosts}"
        [hosts.peer]
        ssh = "root@{peer.address}"
        identity = "{peer.apsis_key}"
        {keepalive}
        [host_groups.both]
        hosts = ["peer", "local"]
        """)


@with_daemon()
async def test_runs_go_to_the_remote_host_or_group_they_name_and_record_it(daemon: Daemon) -> None:
    args = remote_config(daemon)
    daemon.job("remote", 'program: "echo on $(hostname)"\nhost: peer\n')
    daemon.job("either", 'program: "true"\nhost: both\n')
    await daemon.start(*args)
    for body in ({"job_id": "remote"}, {"job_id": "either"}, {"job_id": "either"},
                 {"program": "true", "host": "peer"}):
        status, _ = await post("/api/v1/runs", body)
        assert status == 201
    runs = await daemon.wait_runs(finished(4), what="four runs ended")
    assert [run.state for run in runs] == [State.SUCCESS] * 4, [(run.id, run.reason) for run in runs]
    by_job = sorted((run.job_id, run.host) for run in runs)
    assert by_job == [("adhoc", "peer"), ("either", "local"), ("either", "peer"), ("remote", "peer")]
    (remote,) = [run for run in runs if run.job_id == "remote"]
    async with session() as client, client.get(f"http://apsis/api/v1/runs/{remote.id}/output") as response:
        output = await response.read()
    assert output.startswith(b"on ") and output != f"on {socket.gethostname()}\n".encode(), output


@with_daemon()
async def test_a_restart_follows_a_run_on_the_remote_host_it_was_recorded_on(daemon: Daemon) -> None:
    args = remote_config(daemon)
    daemon.job("slow", 'program: "sleep 2"\nhost: both\n')
    await daemon.start(*args)
    for _ in range(2):  # one on the peer, one on local, in turn
        assert (await post("/api/v1/runs", {"job_id": "slow"}))[0] == 201
    running = await daemon.wait_runs(lambda runs: len(runs) == 2 and all(run.state is State.RUNNING for run in runs),
                                     what="both running")
    await daemon.kill()  # its runs go on, each on its host
    await daemon.start(*args)
    runs = await daemon.wait_runs(finished(2), what="both ended")
    assert sorted((run.id, run.state, run.host) for run in runs) == sorted(
        (run.id, State.SUCCESS, run.host) for run in running)
    assert {run.host for run in runs} == {"peer", "local"}


@with_daemon()
async def test_each_host_is_seen_from_outside_reachable_or_not_since_when_and_why(daemon: Daemon) -> None:
    args = remote_config(daemon, "keepalive_interval = \"1s\"\n        keepalive_count = 2")
    peer = peers()[0]
    daemon.job("slow", 'program: "sleep 30"\nhost: peer\n')
    await daemon.start(*args)
    assert (await post("/api/v1/runs", {"job_id": "slow"}))[0] == 201
    await daemon.wait_runs(lambda runs: any(run.state is State.RUNNING for run in runs), what="running on the peer")
    status, found = await get("/api/v1/hosts")
    assert status == 200
    local, remote = found
    assert (local["name"], local["kind"], local["state"], local["runs_under_way"]) == ("local", "local", "reachable", 0)
    assert (remote["name"], remote["kind"], remote["state"], remote["runs_under_way"]) == (
        "peer", "remote", "reachable", 1)
    assert remote["agentd"] and remote["hostname"] and abs(remote["clock_skew"]) < 1.0  # one machine's clock
    shown = apsis("hosts")
    assert shown.code == 0 and "peer" in shown.out and "reachable" in shown.out, shown
    async with session() as client, client.get("http://apsis/metrics") as response:
        metrics = await response.text()
    assert 'apsis_host_reachable{host="peer"} 1.0' in metrics
    assert 'apsis_host_runs_under_way{host="peer"} 1.0' in metrics
    with link_cut(peer):
        while (await get("/api/v1/hosts"))[1][1]["state"] == "reachable":  # ssh's keep-alives: about 2 s
            await asyncio.sleep(0.2)
        status, found = await get("/api/v1/hosts")
        assert found[1]["state"] == "unreachable" and found[1]["problem"], found
        shown = apsis("hosts")
        assert shown.code == 1 and "UNREACHABLE" in shown.out, shown
        status, report = await get("/api/v1/check")
        assert [entry["host"] for entry in report["unlisted_hosts"]] == ["peer"]
        assert "unreachable since" in report["unlisted_hosts"][0]["problem"]
