"""The sandbox harness, from the host: it boots, runs, isolates, and leaves the host as it was.

These run on the host itself (not inside a sandbox): the harness's promise
is about the host, so only the host can check it.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = [sys.executable, str(ROOT / "tools" / "sandbox.py")]
sys.path.insert(0, str(ROOT / "tools"))
import sandbox  # noqa: E402
import sandbox_inotify  # noqa: E402
import sandbox_peers  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or sandbox.host_runs_systemd() or not sandbox.CGROUP_V2.is_dir(),
    reason="the sandbox harness is only used (and testable) as root on a host without systemd as PID 1",
)


def _tree(root: str, depth: int) -> list[tuple[str, int, float]]:
    """Names, modes and mtimes under root, to `depth` levels (what a leak would change)."""
    out = []
    base = root.rstrip("/").count("/")
    for dirpath, dirs, files in os.walk(root):
        if dirpath.count("/") - base >= depth:
            dirs[:] = []
        for name in sorted(dirs + files):
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            out.append((path, st.st_mode, st.st_mtime))
    return sorted(out)


def host_state() -> dict[str, object]:
    """Everything a sandbox could damage on the host, as comparable values."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        # mount point, per-mount options, fs type, source, superblock options
        mounts.append((fields[4], fields[5], fields[sep + 1], fields[sep + 2], fields[sep + 3]))
    return {
        "mounts": sorted(mounts),
        "cgroup_root": sorted(os.listdir("/sys/fs/cgroup")),
        "cgroup_v2": sorted(p for p in os.listdir(sandbox.CGROUP_V2) if p.startswith(sandbox.PREFIX)),
        "tmp": _tree("/tmp", 1),
        "taken": time.time(),
        "root": _tree("/root", 1),
        "etc": _tree("/etc", 3),
        "journal": _tree("/var/log/journal", 3),
        "var_lib_systemd": _tree("/var/lib/systemd", 2),
        "systemd_pids": _running("systemd"),
        "hostname": os.uname().nodename,
        "links": sorted(os.listdir("/sys/class/net")),
        "netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        "peer_state": sorted(os.listdir(ROOT / sandbox_peers.STATE_DIR))
        if (ROOT / sandbox_peers.STATE_DIR).is_dir() else [],
        "sshd_pids": _running("sshd"),
    }


def _running(comm: str) -> list[int]:
    """Live (not zombie) processes of that name: a reaped-later zombie is not a leak."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, state = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2]
        if name == comm and state != "Z":
            pids.append(int(stat.parent.name))
    return sorted(pids)


# The host's /tmp is shared with every other process of the machine, which make and remove
# entries of their own while a test runs (pytest's folders, tempfile's tmpXXXXXXXX, the scratch
# of the shell tool that runs commands on development machines). What a sandbox must not do is
# empty it (Debian's tmpfiles rule) or write into it. So: every entry that had stood still for
# SETTLED seconds before is still there after, with its mode; and the marker the test's commands
# write into their private /tmp never appears here.
OTHERS_TMP = ("/tmp/pytest-of-", "/tmp/bash_jobs.", "/tmp/bash_tool_")
SETTLED = 60.0
MARKER = f"/tmp/apsis-sandbox-marker-{os.getpid()}"


def assert_host_as_before(before: dict[str, object], after: dict[str, object], what: str) -> None:
    for key in before:
        if key not in ("tmp", "taken"):
            assert after[key] == before[key], f"{what} changed the host's {key}"
    taken = before["taken"]
    settled = {(path, mode) for path, mode, mtime in before["tmp"]  # type: ignore[attr-defined]
               if taken - mtime > SETTLED and not path.startswith(OTHERS_TMP)}  # type: ignore[operator]
    kept = {(path, mode) for path, mode, _ in after["tmp"]}  # type: ignore[attr-defined]
    assert settled <= kept, f"{what} removed from the host's /tmp: {sorted(settled - kept)}"
    assert not os.path.exists(MARKER), f"{what} wrote into the host's /tmp"


def harness(*cmd: str, hosts: int = 0, root: str = "shared", **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, "run", "--hosts", str(hosts), "--root", root, "--", *cmd], capture_output=True,
                          text=True, timeout=120, **kwargs)  # type: ignore[call-overload]


def test_a_command_runs_inside_a_real_systemd() -> None:
    proc = harness("sh", "-c", "systemctl is-system-running; cat /proc/1/comm; grep '^0::' /proc/self/cgroup")
    assert proc.returncode == 0, proc.stderr
    state, pid1, cgroup = proc.stdout.split()
    assert state == "running"
    assert pid1 == "systemd"
    assert cgroup == "0::/", "the command must sit inside the sandbox's own cgroup tree"


def test_a_sandboxs_systemd_holds_no_more_inotify_instances_than_the_harness_counts() -> None:
    proc = harness("sh", "-c", "ls -l /proc/1/fd | grep -c anon_inode:inotify")
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) <= sandbox_inotify.PER_SANDBOX, "fifty peers would not fit the kernel's cap"


def test_what_systemd_inside_logs_while_journald_is_away_never_reaches_the_hosts_kernel_log() -> None:
    """PID 1 logs to the kernel's ring buffer while journald is stopped (a restart): inside, that buffer would
    be the host's."""
    marker = f"apsis-kmsg-probe-{os.getpid()}"
    journald = "systemd-journald.socket systemd-journald-dev-log.socket systemd-journald.service"
    proc = harness("sh", "-c", f"systemctl stop {journald} 2>/dev/null; systemd-run --wait -q -u {marker} true; "
                               f"systemctl start {journald}")
    assert proc.returncode == 0, proc.stderr
    kernel_log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True, timeout=30).stdout
    assert marker not in kernel_log


def test_exit_status_of_the_command_is_passed_through() -> None:
    assert harness("sh", "-c", "exit 7").returncode == 7


def test_the_shared_root_is_read_only_inside_and_tmp_is_private() -> None:
    marker = f"apsis-sandbox-test-{os.getpid()}"
    proc = harness("sh", "-c", f"touch /etc/{marker} /root/{marker} /var/lib/{marker}; "
                               f"echo private > /tmp/{marker} && cat /tmp/{marker}")
    assert "Read-only file system" in proc.stderr
    assert proc.stdout.strip() == "private"
    for folder in ("/etc", "/root", "/var/lib", "/tmp"):
        assert not os.path.exists(f"{folder}/{marker}")


@pytest.mark.parametrize("parent", ["/tmp", "/var/tmp"])
def test_a_checkout_under_a_private_tmpfs_is_seen_and_writable_inside(parent: str) -> None:
    """A clone under /tmp or /var/tmp (where a newcomer may put it) stays at its own path inside."""
    folder = Path(tempfile.mkdtemp(prefix="apsis-checkout-", dir=parent))
    beside = Path(tempfile.mkdtemp(prefix="apsis-beside-", dir=parent))  # the host's, not kept: stays hidden
    try:
        (folder / "mine").write_text("from the host\n")
        proc = harness("sh", "-c", f"cat mine && echo inside > made && test ! -e {beside} && echo hidden", cwd=folder)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["from", "the", "host", "hidden"]
        assert (folder / "made").read_text() == "inside\n"
    finally:
        shutil.rmtree(folder)
        beside.rmdir()


def test_folders_the_sandbox_would_hide_are_kept_outermost_only() -> None:
    assert sandbox.hidden_inside(["/work/x", "/tmp/a", "/tmp/a/b", "/var/tmp/c", "/home/u/co"]) == [
        "/home/u/co", "/tmp/a", "/var/tmp/c"]
    with pytest.raises(sandbox.SandboxError, match="under /run"):
        sandbox.hidden_inside(["/run/user/0/co"])
    # Under an overlay root every kept folder is bound, or its writes would stay in the overlay.
    assert sandbox.hidden_inside(["/work/x", "/work/x/y", "/tmp/a"], root="overlay") == ["/tmp/a", "/work/x"]


def test_host_is_left_as_it_was_after_success_failure_interrupt_and_kill() -> None:
    before = host_state()

    assert harness("sh", "-c", f"systemd-run --wait -q /bin/true && echo x > {MARKER}").returncode == 0
    assert harness("sh", "-c", "exit 3").returncode == 3
    # With peer hosts (a veth each, an sshd each, a state folder under the checkout), too.
    assert harness("sh", "-c", "exit 4", hosts=2).returncode == 4

    for hosts in (0, 2):
        # Interrupted (SIGTERM, as CI's timeout would): teardown still happens.
        with _sleeping_harness(hosts) as proc:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 130
            assert "torn down" in (proc.stderr.read() if proc.stderr else "")

        # Killed outright: the kernel ends the sandboxes with it (PDEATHSIG); the
        # next harness sweeps the empty cgroups and the peers' state folder it leaves.
        with _sleeping_harness(hosts) as proc:
            proc.kill()
            proc.wait(timeout=30)
            _wait_until(lambda: not _sandbox_processes(proc.pid), "sandbox processes to end after SIGKILL")
        swept = subprocess.run([*HARNESS, "sweep"], check=True, capture_output=True, text=True, timeout=60)
        assert swept.stdout.count("removed stale") == 1 + hosts + (1 if hosts else 0), swept.stdout

    after = host_state()
    stray = [p.name for p in Path("/sys/fs/cgroup").iterdir() if p.is_file()]
    assert not stray, f"files written into the host's cgroup tmpfs: {stray}"
    assert_host_as_before(before, after, "the sandbox")


def _probe_package(folder: Path) -> Path:
    """A tiny .deb whose files and maintainer script would show on the host if dpkg wrote there."""
    tree = folder / "probe"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr/share/apsis-sandbox-probe").mkdir(parents=True)
    (tree / "usr/share/apsis-sandbox-probe/hello").write_text("hello\n")
    (tree / "DEBIAN/control").write_text(
        "Package: apsis-sandbox-probe\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: apsis tests <tests@localhost>\nDescription: probe of the overlay sandbox\n")
    postinst = tree / "DEBIAN/postinst"
    postinst.write_text("#!/bin/sh\nset -e\necho installed > /etc/apsis-sandbox-probe.conf\n")
    postinst.chmod(0o755)
    deb = folder / "apsis-sandbox-probe_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)], check=True,
                   capture_output=True, timeout=60)
    return deb


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb to make the probe package")
def test_an_overlay_root_takes_a_package_and_the_host_never_sees_it(tmp_path: Path) -> None:
    deb = _probe_package(tmp_path)
    before = host_state()
    proc = harness("sh", "-c", f"""set -e
        dpkg -i {deb} >/dev/null
        dpkg-query -W -f='${{Status}}\n' apsis-sandbox-probe
        cat /usr/share/apsis-sandbox-probe/hello /etc/apsis-sandbox-probe.conf
        findmnt -n -o FSTYPE /
        echo written > {tmp_path}/from-inside
        systemctl is-system-running""", root="overlay")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:5] == ["install ok installed", "hello", "installed", "overlay", "running"]
    # The checkout and the test's folders are the host's own inside: written through.
    assert (tmp_path / "from-inside").read_text() == "written\n"
    # dpkg's database, /usr and /etc of the host: untouched.
    host = subprocess.run(["dpkg-query", "-W", "apsis-sandbox-probe"], capture_output=True, text=True)
    assert host.returncode != 0, "the package reached the host's dpkg database"
    assert not Path("/usr/share/apsis-sandbox-probe").exists()
    assert not Path("/etc/apsis-sandbox-probe.conf").exists()
    assert_host_as_before(before, host_state(), "the overlay sandbox")


def test_two_sandboxes_run_at_once_without_colliding() -> None:
    procs = [subprocess.Popen([*HARNESS, "run", "--", "sh", "-c",
                               "systemd-run --wait -q -u same-name.service /bin/sleep 2 && echo ok"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == ["ok", "ok"]
    names = {line.split()[1] for _, err in outs for line in err.splitlines() if "booted" in line}
    assert len(names) == 2


def _sandbox_cgroups(owner: int | None = None) -> list[Path]:
    """The sandboxes' cgroups; of one harness only if `owner` (others may be running their own)."""
    return list(sandbox.CGROUP_V2.glob(sandbox.PREFIX + (f"{owner}-*" if owner else "*")))


def _sandbox_processes(owner: int | None = None) -> list[str]:
    """Their processes; a booting or ending systemd makes and removes cgroups while this looks, so a cgroup
    gone meanwhile is passed over (os.walk skips a folder it cannot list)."""
    pids = []
    for cg in _sandbox_cgroups(owner):
        for folder, _, files in os.walk(cg):
            if "cgroup.procs" in files:
                try:
                    pids += Path(folder, "cgroup.procs").read_text().split()
                except OSError:
                    continue
    return pids


@contextlib.contextmanager
def _sleeping_harness(hosts: int) -> Iterator[subprocess.Popen[str]]:
    """A harness whose command sleeps, once booted; torn down (SIGTERM) if the test leaves it running."""
    proc = subprocess.Popen([*HARNESS, "run", "--hosts", str(hosts), "--", "sleep", "300"],
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_sandboxes(1 + hosts, proc.pid)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        if proc.stderr:
            proc.stderr.close()


def _wait_for_sandboxes(count: int, owner: int) -> None:
    """Until harness `owner` has booted `count` sandboxes and its command (a sleep) runs."""
    def booted() -> bool:
        return len(_sandbox_cgroups(owner)) >= count and "sleep" in map(_command, _sandbox_processes(owner))
    _wait_until(booted, "a sandbox to boot and run its command")


def _command(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # ended meanwhile
        return ""


def _wait_until(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


PEERS_SCRIPT = r"""
import json, os, subprocess
hosts = json.load(open(os.environ["APSIS_SANDBOX_HOSTS"]))["hosts"]
def ssh(host, key, command):
    return subprocess.run(["ssh", "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                           "-o", "UserKnownHostsFile=" + host["known_hosts"], "-o", "GlobalKnownHostsFile=/dev/null",
                           "-o", "IdentitiesOnly=yes", "-i", host[key], "--", "root@" + host["address"], command],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
out = {"links": [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]], "hosts": []}
for host in hosts:
    control, apsis = ssh(host, "control_key", "hostname"), ssh(host, "apsis_key", "echo not-forced")
    out["hosts"].append({"name": host["name"], "veth": host["veth"], "control": control.stdout.strip(),
                         "control_rc": control.returncode, "apsis": apsis.stdout + apsis.stderr})
print(json.dumps(out))
"""


def test_peer_hosts_are_reached_over_ssh_and_apsiss_key_runs_agentd_only() -> None:
    proc = harness(sys.executable, "-c", PEERS_SCRIPT, hosts=2)
    assert proc.returncode == 0, proc.stderr
    assert "with 2 peer hosts" in proc.stderr
    seen = json.loads(proc.stdout)
    assert [h["name"] for h in seen["hosts"]] == ["host1", "host2"]
    for host in seen["hosts"]:
        assert host["control_rc"] == 0
        assert host["control"] == host["name"], "the control key logs in to that peer, which is its own host"
        assert host["veth"] in seen["links"]
        # The forced command ran instead of what was asked (agentd may not be installed yet).
        assert "not-forced" not in host["apsis"]
        agentd = ROOT / ".venv" / "bin" / "agentd"
        assert agentd.exists() or f"{agentd}: No such file or directory" in host["apsis"]
    assert not (ROOT / sandbox_peers.STATE_DIR).exists() or not list((ROOT / sandbox_peers.STATE_DIR).iterdir())


def test_each_peer_has_its_own_slash_30_and_they_never_overlap() -> None:
    pairs = [sandbox_peers.addresses(i) for i in range(sandbox_peers.MAX_PEERS)]
    assert pairs[0] == ("10.77.0.1", "10.77.0.2")
    assert pairs[1] == ("10.77.0.5", "10.77.0.6")
    flat = [a for pair in pairs for a in pair]
    assert len(set(flat)) == len(flat)
    with pytest.raises(ValueError, match="at most"):
        sandbox_peers.addresses(sandbox_peers.MAX_PEERS)
    assert subprocess.run([*HARNESS, "run", "--hosts", "-1", "--", "true"], capture_output=True,
                          timeout=60).returncode == 125


def test_a_peer_that_cannot_be_joined_fails_the_boot_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    before = host_state()

    def no_sshd(peer_sandbox: object, peer: sandbox_peers.Peer) -> None:
        raise sandbox_peers.PeerError(f"no sshd for {peer.name}")

    monkeypatch.setattr(sandbox_peers, "start_sshd", no_sshd)
    hosts = sandbox.Hosts(ROOT, 2, keep=(str(ROOT),))
    with pytest.raises(sandbox.SandboxError, match="peer hosts: no sshd for host"), hosts:
        raise AssertionError("booted without its peers' sshd")
    assert not hosts.state.exists()
    assert not [p for p in _sandbox_cgroups() if p.name.startswith(hosts.main.name)]
    after = host_state()
    assert_host_as_before(before, after, "the failed boot")
