"""apsis's .debs installed as an operator would, each scenario in a sandbox with a root of its own.

Installing must never change this machine: each test boots an overlay
sandbox (tools/sandbox.py, `root="overlay"`: the host's root under an
overlay whose writes stay in the sandbox's memory) as its own systemd, and
installs, upgrades, removes and purges there with apt and dpkg. The .debs'
dependencies are Debian packages tools/setup installs on the host, so the
overlay has them and `apt-get install --no-download` needs no network.

These run on the host (like tests/sandbox/): the sandbox's promise is about
the host, and the packages' about a whole machine.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import sandbox  # noqa: E402

from tests.packaging.deb import Debs  # noqa: E402

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or sandbox.host_runs_systemd() or not sandbox.CGROUP_V2.is_dir(),
        reason="installs in overlay sandboxes: only as root on a host without systemd as PID 1 "
               "(where systemd is PID 1 there is no sandbox, and installing would change this machine)"),
]

STARTED = "39f53479d3a045ac8e11786248231fbf"  # PID 1's "Started <unit>" journal message
APT = "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0"  # no network inside: nothing downloads
JOB = """\
schedule: {type: interval, interval: 2s}
program: {type: exec, argv: [/bin/echo, hello from an installed apsis]}
"""


class Box:
    """One overlay sandbox, driven by shell scripts run inside it as root (or `user`)."""

    def __init__(self, booted: sandbox.Sandbox) -> None:
        self.booted = booted
        self._user_envs: dict[str, list[str]] = {}
        # A container image's policy-rc.d (this machine's forbids starting services) is no part of
        # a Debian host: without it, maintainer scripts start and restart units as on one.
        self.sh("rm -f /usr/sbin/policy-rc.d")

    def sh(self, script: str, user: str | None = None, check: bool = True,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
        argv = ["sh", "-c", script]
        if user:
            argv = ["runuser", "-u", user, "--", "env", "-C", "/", *self._user_env(user), *argv]
        proc = self.booted.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"inside the sandbox{f' as {user}' if user else ''}: {script!r} exited "
                                 f"{proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def out(self, script: str, user: str | None = None) -> str:
        return self.sh(script, user).stdout.strip()

    def _user_env(self, user: str) -> list[str]:
        """The login environment of `user` (read once: a user's uid and home do not change)."""
        if user not in self._user_envs:
            uid = self.out(f"id -u {shlex.quote(user)}")
            home = self.out(f"getent passwd {shlex.quote(user)} | cut -d: -f6")
            self._user_envs[user] = [f"HOME={home}", f"USER={user}", f"XDG_RUNTIME_DIR=/run/user/{uid}",
                                     f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus", "PATH=/usr/bin:/bin"]
        return self._user_envs[user]

    def until(self, script: str, what: str, user: str | None = None, timeout: float = 60) -> str:
        """Run `script` until it succeeds with some output; that output."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self.sh(script, user, check=False)
            if proc.returncode == 0 and proc.stdout.strip():
                return proc.stdout.strip()
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s (last: {proc.stdout!r} {proc.stderr!r})")
            time.sleep(0.5)

    def install(self, *debs: Path) -> None:
        self.sh(f"{APT} install {' '.join(shlex.quote(str(d)) for d in debs)}")

    def running(self, when: str) -> None:
        """Until the system's apsisd is active (`when`: after what, for the failure's words)."""
        self.until("systemctl is-active apsisd | grep -x active", f"apsisd active {when}")

    def add_jobs(self, **jobs: str) -> None:
        """Job files into the system's jobs folder, then a reload."""
        files = "".join(f"cat > /etc/apsis/jobs/{name}.yaml <<'END'\n{text}END\n" for name, text in jobs.items())
        self.sh(files + "systemctl reload apsisd")

    def runs(self, job: str, user: str | None = None) -> list[dict]:
        return json.loads(self.out(f"apsis runs --job {shlex.quote(job)} --json", user))["runs"]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    with sandbox.Sandbox(keep=[str(ROOT), str(tmp_path)], root="overlay") as booted:
        yield Box(booted)


def _finished(box: Box, job: str, user: str | None = None) -> list[dict]:
    return [r for r in box.runs(job, user) if r["state"] in ("success", "failure", "error")]


def test_install_runs_apsisd_and_a_dropped_in_job_on_its_schedule(box: Box, debs: Debs) -> None:
    box.install(debs.agent, debs.apsis)
    assert box.out("systemctl is-enabled apsisd") == "enabled"
    box.running("after install")
    assert box.out("getent group apsis").startswith("apsis:")

    box.add_jobs(hello=JOB)
    box.until("apsis runs --job hello --state success --json | grep -q run_id && echo yes", "a run of hello")
    run = _finished(box, "hello")[0]
    assert run["state"] == "success", run
    output = box.until(f"journalctl -q -o cat APSIS_RUN_ID={run['run_id']}", "the run's output in the journal")
    assert "hello from an installed apsis" in output

    # A member of the group apsis may use apsis; another user is refused, with words.
    box.sh("useradd -m -G apsis alice && useradd -m bob")
    assert any(r["run_id"] == run["run_id"] for r in box.runs("hello", user="alice"))
    refused = box.sh("apsis runs --job hello", user="bob", check=False)
    assert refused.returncode == 2, refused
    assert "not allowed" in refused.stderr or "Permission denied" in refused.stderr, refused.stderr


SLOW_JOB = """\
program: {type: shell, command: "sleep 25; echo slow run done"}
"""


def _invocation(box: Box) -> str:
    return box.out("systemctl show -P InvocationID apsisd")


def test_upgrade_while_runs_run_loses_and_doubles_none(box: Box, debs: Debs, build_debs: Callable) -> None:
    newer = build_debs(2)
    box.install(debs.agent, debs.apsis)
    box.running("after install")
    box.add_jobs(hello=JOB, slow=SLOW_JOB)
    box.sh("apsis run slow --count 3")
    box.until("[ $(apsis runs --job slow --state running --no-legend | wc -l) = 3 ] && echo yes",
              "three slow runs running")
    before = _invocation(box)

    box.install(newer.agent, newer.apsis)
    assert box.out("dpkg-query -W -f='${Version}' apsis") == newer.version
    box.running("after the upgrade")
    assert _invocation(box) != before, "the upgrade must restart apsisd onto the new code"
    # The runs outlived the old apsisd: the new one found them running, and records their ends.
    assert len(box.out("apsis runs --job slow --state running --no-legend").splitlines()) == 3

    box.until("[ $(apsis runs --job slow --state success --no-legend | wc -l) = 3 ] && echo yes",
              "the three slow runs finished and recorded", timeout=90)
    slow = box.runs("slow")
    assert len(slow) == 3 and {r["state"] for r in slow} == {"success"}, slow
    for run in slow:
        out = box.out(f"journalctl -q -o cat APSIS_RUN_ID={run['run_id']}")
        assert out.count("slow run done") == 1, (run, out)
    # Nothing doubled across the restart: each slow run's unit started once, each slot of hello ran once.
    starts = box.out(f"journalctl -q -o cat _PID=1 MESSAGE_ID={STARTED}").splitlines()
    for run in slow:
        assert sum(f"apsis-{run['run_id']}.service" in line for line in starts) == 1, (run, starts)
    hello = [r for r in box.runs("hello") if r["state"] != "scheduled"]
    slots = [r["times"]["schedule"] for r in hello]
    assert len(slots) == len(set(slots)), "a slot of hello ran twice"


def test_remove_keeps_config_and_state_purge_leaves_nothing_reinstall_works(box: Box, debs: Debs) -> None:
    box.install(debs.agent, debs.apsis)
    box.running("after install")
    box.add_jobs(hello=JOB)
    box.until("apsis runs --job hello --state success --no-legend", "a run of hello")
    files = box.out("dpkg -L apsis apsis-agent").splitlines()

    box.sh(f"{APT} remove apsis apsis-agent")
    assert box.sh("systemctl cat apsisd", check=False).returncode != 0, "the unit outlived remove"
    assert not box.out("command -v apsisd apsis agentd || true")
    kept = box.out("ls /etc/apsis/apsisd.toml /etc/apsis/jobs/hello.yaml && ls /var/lib/apsis")
    assert "apsisd.toml" in kept and "hello.yaml" in kept and ".db" in kept, kept
    assert box.out("getent group apsis").startswith("apsis:")

    box.sh(f"{APT} purge apsis apsis-agent")
    left = box.out("ls -d /etc/apsis /var/lib/apsis /run/apsis /var/log/apsis /var/cache/apsis 2>/dev/null || true")
    assert not left, f"purge left {left}"
    assert box.sh("getent group apsis", check=False).returncode == 2
    assert box.sh("getent passwd apsis", check=False).returncode == 2
    assert not box.out("systemctl list-unit-files --no-legend 'apsis*' || true")
    assert not box.out("find /etc /lib/systemd /usr/lib/systemd /var/lib/systemd -name '*apsis*' 2>/dev/null || true")
    # What the packages shipped is gone, but for folders that other packages own too.
    remaining = box.out("for f in " + " ".join(shlex.quote(f) for f in files if f != "/.")
                        + "; do [ -e \"$f\" ] && ! [ -d \"$f\" ] && echo \"$f\"; "
                        "[ -d \"$f\" ] && ! dpkg -S \"$f\" >/dev/null 2>&1 && echo \"$f\"; done; true")
    assert not remaining, f"purge left files of apsis: {remaining}"

    box.install(debs.agent, debs.apsis)
    box.running("after reinstall")
    assert box.out("getent group apsis").startswith("apsis:")
    assert box.out("apsis runs --no-legend || true") == "", "a purged state came back"
    box.add_jobs(hello=JOB)
    box.until("apsis runs --job hello --state success --no-legend", "a run of hello after reinstall")


def test_apsis_agent_alone_on_a_second_host_is_reachable_as_a_remote_host(tmp_path: Path, debs: Debs) -> None:
    with sandbox.Hosts(ROOT, 1, keep=[str(ROOT), str(tmp_path)], root="overlay") as hosts:
        main, peer = Box(hosts.main), Box(hosts.peers[0])
        described = json.loads(Path(hosts.env[sandbox.sandbox_peers.HOSTS_ENV]).read_text())["hosts"][0]
        peer.install(debs.agent)
        assert peer.out("command -v agentd") == "/usr/bin/agentd"
        assert peer.sh("command -v apsisd || dpkg -s apsis", check=False).returncode != 0, \
            "apsis-agent alone brought apsisd"

        main.install(debs.agent, debs.apsis)
        main.running("after install")
        # As docs/hosts.md "From zero to a second host" tells an operator.
        main.sh("install -d -m 0700 /etc/apsis/ssh && "
                "ssh-keygen -q -t ed25519 -N '' -C apsis@main -f /etc/apsis/ssh/id_ed25519")
        key = main.out("cat /etc/apsis/ssh/id_ed25519.pub")
        with open(described["authorized_keys"], "a") as authorized:
            authorized.write(f'command="/usr/bin/agentd serve --stdio",restrict {key}\n')
        main.sh(f"install -m 0644 {shlex.quote(described['known_hosts'])} /var/lib/apsis/known_hosts")
        main.sh("cat >> /etc/apsis/apsisd.toml <<'END'\n"
                f'[hosts.agent]\nssh = "root@{described["address"]}"\nidentity = "/etc/apsis/ssh/id_ed25519"\n'
                "END\nsystemctl restart apsisd")
        main.until("apsis hosts | grep -E '^agent +remote +reachable'", "the agent host reachable")
        ran = main.out("apsis run --shell 'cat /etc/hostname' --host agent --wait -q")
        assert ran == "host1", ran


def test_user_mode_runs_are_the_users_own_units_and_cannot_touch_the_systems(box: Box, debs: Debs) -> None:
    box.install(debs.agent, debs.apsis)
    box.running("after install")
    box.add_jobs(slow=SLOW_JOB)
    box.sh("apsis run slow")
    system_run = box.until("apsis runs --job slow --state running --no-legend | awk 'NR == 1 {print $1}'",
                           "the system's slow run running")

    # A normal user with lingering: their own manager, their own apsisd, their own jobs folder.
    box.sh("useradd -m -s /bin/sh carol && loginctl enable-linger carol")
    uid = box.out("id -u carol")
    box.until(f"systemctl is-active user@{uid}.service | grep -x active", "carol's systemd --user")
    box.sh("systemctl --user enable --now apsisd", user="carol")
    box.until("systemctl --user is-active apsisd | grep -x active", "carol's apsisd", user="carol")
    box.sh(f"mkdir -p ~/.config/apsis/jobs && cat > ~/.config/apsis/jobs/hello.yaml <<'END'\n{JOB}END\n"
           "systemctl --user reload apsisd", user="carol")
    box.until("apsis runs --job hello --state success --no-legend", "a run of carol's hello", user="carol")
    run = _finished(box, "hello", user="carol")[0]
    assert "hello from an installed apsis" in box.out(f"apsis output {run['run_id']}", user="carol")
    # A unit of carol's manager, as its own records say (journald keeps LogExtraFields= for system units only,
    # and gives a user unit's lines no unit once their writer is gone, as echo's at once: a user-mode run's lines
    # are found by its identifier and uid, as apsis output reads them: docs/operations.md).
    unit = f"apsis-{run['run_id']}"
    started = json.loads(box.out(f"journalctl -o json -n 1 _UID={uid} USER_UNIT={unit}.service "
                                 "_SYSTEMD_USER_UNIT=init.scope"))
    assert started["_SYSTEMD_UNIT"] == f"user@{uid}.service", started
    line = json.loads(box.out(f"journalctl -o json -n 1 _UID={uid} SYSLOG_IDENTIFIER={unit} _TRANSPORT=stdout"))
    assert "hello from an installed apsis" in line["MESSAGE"], line

    # Carol's apsis is her own apsisd: the system's runs are not hers to see or stop.
    assert not [r for r in box.runs("slow", user="carol")], "carol's apsis answered with the system's runs"
    refused = box.sh(f"apsis --url unix:/run/apsis/api.sock stop {system_run}", user="carol", check=False)
    assert refused.returncode == 2 and "not allowed" in refused.stderr + refused.stdout, refused
    denied = box.sh(f"systemctl stop apsis-{system_run}.service", user="carol", check=False)
    assert denied.returncode != 0, denied
    assert system_run in box.out("apsis runs --job slow --state running --no-legend"), \
        "the system's run was stopped by a user"
