"""The units we ship, as shipped: the system apsisd.service with all its hardening, apsis.slice, sysusers and
tmpfiles, and the user unit under a lingering user's `systemd --user`.

The sandbox's /etc and /var/lib are the host's, read-only. To install as a package would (group `apsis` made by
systemd-sysusers, /etc/apsis/jobs by systemd-tmpfiles, /var/lib/apsis by StateDirectory=, lingering under
/var/lib/systemd/linger), the fixture puts a writable overlay over each, its upper layer on the sandbox's own
/run: nothing reaches the host. The units are copied into /run/systemd/{system,user}; a drop-in changes only what
a checkout needs: ExecStart= to the checkout's apsisd, and BindReadOnlyPaths= for the checkout and its Python
where PrivateTmp= would hide them (a clone under /tmp or /var/tmp). Everything else is what ships, and the first
test checks that the running apsisd really has it.
"""
from __future__ import annotations

import configparser
import contextlib
import json
import os
import pwd
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apsisd.cli.main import apsis

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "units"
VENV_BIN = Path(sys.executable).parent
LAYERS = Path("/run/apsis-units-test")
SYSTEM = Path("/run/systemd/system")
USER_UNITS = Path("/run/systemd/user")
SERVICE = "apsisd.service"
OPERATOR, OTHER, OWNER = "apsisop", "apsisother", "apsisuser"
HIDDEN_BY_PRIVATE_TMP = (Path("/tmp"), Path("/var/tmp"))
# The options of the system unit whose `systemctl show` value is written as in the file.
AS_WRITTEN = ("Type", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateIPC", "NoNewPrivileges",
              "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
              "ProtectClock", "ProtectHostname", "ProtectProc", "RestrictNamespaces", "RestrictRealtime",
              "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute", "SystemCallArchitectures", "UMask",
              "LimitNOFILE", "KillMode", "StateDirectory", "RuntimeDirectory", "ConfigurationDirectory")


def sh(*argv: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


def show(unit: str, name: str) -> str:
    return sh("systemctl", "show", "--value", "-p", name, unit)


def wait_for(condition: Callable[[], object], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {within} s"
        time.sleep(0.1)


def shipped(path: Path) -> dict[str, str]:
    """A unit file's [Service] (or [Slice]) keys as written (the last of a repeated key)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return dict(parser[parser.sections()[1]])


@contextlib.contextmanager
def writable(folder: str) -> Iterator[None]:
    """An overlay over `folder` whose upper layer is on the sandbox's /run: writes stay in the sandbox."""
    layer = LAYERS / folder.strip("/").replace("/", "-")
    (layer / "upper").mkdir(parents=True)
    (layer / "work").mkdir()
    sh("mount", "-t", "overlay", "apsis-units-test", "-o",
       f"lowerdir={folder},upperdir={layer}/upper,workdir={layer}/work", folder)
    try:
        yield
    finally:
        if subprocess.run(["umount", folder], capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", folder], check=True)


def drop_in(unit_dir: Path, executable: Path) -> Path:
    """The checkout's drop-in: ExecStart= and, where PrivateTmp= would hide them, the checkout and its Python."""
    python = Path(os.path.realpath(sys.executable)).parents[1]
    hidden = [str(path) for path in (ROOT, python) if any(path.is_relative_to(tmp) for tmp in HIDDEN_BY_PRIVATE_TMP)]
    lines = ["[Service]", "ExecStart=", f"ExecStart={executable}"]
    if hidden:
        lines.append(f"BindReadOnlyPaths={' '.join(hidden)}")
    folder = unit_dir / f"{SERVICE}.d"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkout.conf").write_text("\n".join(lines) + "\n")
    return folder / "checkout.conf"


def journal(*matches: str) -> list[dict[str, str]]:
    sh("journalctl", "--sync")
    out = sh("journalctl", "--no-pager", "-o", "json", *matches)
    return [json.loads(line) for line in out.splitlines()]


def apsisd_said(text: str) -> int:
    return sum(text in str(entry.get("MESSAGE")) for entry in journal(f"_SYSTEMD_UNIT={SERVICE}"))


def cli_as(user: str | None, *args: str) -> tuple[int, str]:
    """`apsis ARGS` as `user` (root if None), with that user's groups: forked from this process (its Python may
    be where others may not go) and its exit status and output."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 2
        try:
            os.close(read)
            os.dup2(write, 1)
            os.dup2(write, 2)
            sys.stdout = sys.stderr = open(1, "w", closefd=False)  # fd 1 itself, not pytest's capture
            if user is not None:
                entry = pwd.getpwnam(user)
                os.initgroups(user, entry.pw_gid)
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)
                os.environ.update(HOME="/", USER=user)
                os.environ.pop("XDG_RUNTIME_DIR", None)
            try:
                apsis.main(args=list(args), prog_name="apsis")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        out = pipe.read()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), out


def job(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.yaml").write_text(text)


@pytest.fixture(scope="module")
def sandbox_root() -> Iterator[None]:
    """/etc and /var/lib writable, in the sandbox only."""
    with writable("/etc"), writable("/var/lib"):
        yield


@pytest.fixture(scope="module")
def installed(sandbox_root: None) -> Iterator[None]:
    """The package's sysusers and tmpfiles applied, two users (one in `apsis`), the system units in place and
    apsisd started."""
    sh("systemd-sysusers", str(UNITS / "apsis.sysusers"))
    sh("systemd-sysusers", "--inline", f"u {OPERATOR} -", f"m {OPERATOR} apsis", f"u {OTHER} -")
    sh("systemd-tmpfiles", "--create", str(UNITS / "apsis.tmpfiles"))
    for name in (SERVICE, "apsis.slice"):
        (SYSTEM / name).write_bytes((UNITS / name).read_bytes())
    conf = drop_in(SYSTEM, VENV_BIN / "apsisd")
    sh("systemctl", "daemon-reload")
    try:
        sh("systemctl", "start", SERVICE)  # returns at READY=1
        yield
    finally:
        subprocess.run(["systemctl", "stop", SERVICE, "apsis-*.service"], timeout=60)
        for path in (SYSTEM / SERVICE, SYSTEM / "apsis.slice", conf):
            path.unlink()
        conf.parent.rmdir()
        subprocess.run(["systemctl", "daemon-reload"], timeout=60)


def test_apsisd_runs_with_the_hardening_the_unit_ships(installed: None) -> None:
    unit = shipped(UNITS / SERVICE)
    assert show(SERVICE, "DropInPaths") == str(SYSTEM / f"{SERVICE}.d" / "checkout.conf")
    for name in AS_WRITTEN:
        assert show(SERVICE, name) == unit.get(name), f"{name}: not as units/{SERVICE} says"
    capabilities = unit["CapabilityBoundingSet"].lower().split()
    assert set(show(SERVICE, "CapabilityBoundingSet").split()) == set(capabilities)
    assert set(show(SERVICE, "RestrictAddressFamilies").split()) == set(unit["RestrictAddressFamilies"].split())
    assert show(SERVICE, "WatchdogUSec") == unit["WatchdogSec"] + "s"
    # ...and the process has it: the kernel's view of apsisd.
    pid = show(SERVICE, "MainPID")
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    assert int(status["CapBnd"], 16) == (1 << 0) | (1 << 2)  # CAP_CHOWN, CAP_DAC_READ_SEARCH
    syscalls = set(show(SERVICE, "SystemCallFilter").split())
    assert "chown" in syscalls and not syscalls & {"setuid", "mount", "setpriority", "reboot"}  # @system-service,
    # less @privileged and @resources, @chown back
    mounts = {}  # mount point -> (its root in its file system, options, file system type)
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields, _, fs = line.partition(" - ")
        root, point, options = fields.split()[3:6]
        mounts[point] = (root, options.split(",")[0], fs.split()[0])
    # /etc and /var/lib are writable overlays in this sandbox: read-only here is ProtectSystem=strict's doing.
    assert mounts["/etc"][1] == mounts["/var/lib"][1] == mounts["/usr"][1] == "ro"
    assert mounts["/var/lib/apsis"][1] == mounts["/run/apsis"][1] == "rw"
    assert "systemd-private" in mounts["/tmp"][0] and mounts["/dev"][2] == "tmpfs"  # PrivateTmp=, PrivateDevices=
    assert mounts["/proc/sys"][1] == "ro" and mounts["/sys/fs/cgroup"][1] == "ro"


def test_ready_with_its_watchdog_and_status(installed: None) -> None:
    assert show(SERVICE, "ActiveState") == "active"
    assert show(SERVICE, "StatusText")  # told by apsisd itself, once ready
    assert show(SERVICE, "WatchdogUSec") == "30s"
    assert show(SERVICE, "NRestarts") == "0"  # and not killed for a missed keep-alive meanwhile
    # LimitNOFILE= is soft and hard (nothing to raise), and the API's default caps fit in it (no warning).
    assert apsisd_said("open files: raised") == apsisd_said("may open") == 0


def test_a_job_dropped_in_runs_as_a_unit_in_apsis_slice_with_its_output_in_the_journal(installed: None) -> None:
    # The folder watch (inotify, through ctypes: MemoryDenyWriteExecute= must leave it working) takes it in.
    job(Path("/etc/apsis/jobs"), "hello", "schedule: {type: interval, interval: 1s}\nscheduling: {max_scheduled: 1}\n"
        "program: 'echo hello from $INVOCATION_ID; sleep 10'\n")
    try:
        wait_for(lambda: journal("APSIS_JOB_ID=hello"), "output of a run of hello")
        line = journal("APSIS_JOB_ID=hello")[0]
        assert line["MESSAGE"].startswith("hello from ") and line["_SYSTEMD_UNIT"].startswith("apsis-r")
        # Its slice as systemd has it, while the run sleeps: journald's _SYSTEMD_SLICE is read from the
        # process's cgroup, and on a busy machine it can be gone before journald looks.
        assert show(line["_SYSTEMD_UNIT"], "Slice") == "apsis.slice"
    finally:
        Path("/etc/apsis/jobs/hello.yaml").unlink()
    assert apsisd_said("cannot watch") == 0
    assert show("apsis.slice", "FragmentPath") == str(SYSTEM / "apsis.slice")
    slice_unit = shipped(UNITS / "apsis.slice")
    assert show("apsis.slice", "MemoryAccounting") == slice_unit["MemoryAccounting"]
    assert show("apsis.slice", "TasksMax") != "infinity"


def test_systemctl_reload_rereads_the_jobs(installed: None) -> None:
    before = apsisd_said("(SIGHUP)")
    sh("systemctl", "reload", SERVICE)
    wait_for(lambda: apsisd_said("(SIGHUP)") > before, "reload on SIGHUP in apsisd's log")


def test_stopping_apsisd_leaves_a_running_run_running_for_the_next_to_adopt(installed: None) -> None:
    go = LAYERS / "go"  # the run ends, with 5, only once told: after apsisd's stop and start, however slow
    job(Path("/etc/apsis/jobs"), "long", f"program: 'until [ -e {go} ]; do sleep 0.1; done; exit 5'\n")
    try:
        assert cli_as(None, "reload")[0] == 0
        code, out = cli_as(None, "run", "long", "--json")
        assert code == 0, out
        run_id = json.loads(out)["runs"][0]["run_id"]
        unit = f"apsis-{run_id}.service"
        wait_for(lambda: show(unit, "ActiveState") == "active", f"{unit} running")
        sh("systemctl", "stop", SERVICE)
        assert show(unit, "ActiveState") == "active"  # KillMode=mixed, and the run is not in apsisd's cgroup
        assert show(unit, "Slice") == "apsis.slice"
        sh("systemctl", "start", SERVICE)
        go.touch()

        def ended() -> dict[str, object] | None:
            code, out = cli_as(None, "show", run_id, "--json")
            assert code == 0, out
            run: dict[str, object] = json.loads(out)
            return run if run["state"] in ("success", "failure", "error") else None

        wait_for(ended, f"the end of {run_id}, adopted by the next apsisd")
        run = ended()
        assert run is not None and (run["state"], run["exit_code"]) == ("failure", 5)  # its real outcome
    finally:
        Path("/etc/apsis/jobs/long.yaml").unlink()


def test_a_program_in_a_folder_only_its_user_may_enter_runs(installed: None) -> None:
    # apsisd checks a program exists before it asks for a unit: as root kept to CAP_DAC_READ_SEARCH, which
    # lets it into any folder (a home is 0700), as the root apsisd always could.
    other = pwd.getpwnam(OTHER)
    private = LAYERS / "private"
    private.mkdir(mode=0o700)
    os.chown(private, other.pw_uid, other.pw_gid)
    (private / "prog").write_text("#!/bin/sh\necho private program as $(id -un)\n")
    (private / "prog").chmod(0o755)
    job(Path("/etc/apsis/jobs"), "private", f"program: {{type: exec, argv: ['{private}/prog'], user: {OTHER}}}\n")
    try:
        assert cli_as(None, "reload")[0] == 0
        code, out = cli_as(None, "run", "private", "--wait")
        assert code == 0 and f"private program as {OTHER}" in out, out
    finally:
        Path("/etc/apsis/jobs/private.yaml").unlink()


def test_the_cli_reaches_it_as_root_and_as_an_operator_but_not_as_another_user(installed: None) -> None:
    assert cli_as(None, "status")[0] == 0
    code, out = cli_as(OPERATOR, "--url", "unix:/run/apsis/api.sock", "status")
    assert code == 0, out
    code, out = cli_as(OTHER, "--url", "unix:/run/apsis/api.sock", "status")
    assert code == 2 and "ermission" in out, out


@contextlib.contextmanager
def reachable(paths: list[Path]) -> Iterator[None]:
    """Every folder on the way to `paths` passable by others (the venv's Python may be under /root, 0700): an
    overlay over each one that is not, with o+x in its upper layer only."""
    with contextlib.ExitStack() as stack:
        for folder in sorted({parent for path in paths for parent in path.parents}, key=lambda p: len(p.parts)):
            if not folder.stat().st_mode & 0o001:
                stack.enter_context(writable(str(folder)))
                folder.chmod(folder.stat().st_mode | 0o001)
        yield


def as_owner(user: pwd.struct_passwd, *argv: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": user.pw_dir, "XDG_RUNTIME_DIR": f"/run/user/{user.pw_uid}"}
    return sh("setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", *argv, env=env)


@pytest.fixture
def lingering(sandbox_root: None) -> Iterator[pwd.struct_passwd]:
    """A normal user with lingering on (through logind, as `loginctl enable-linger` does it), the user unit in
    /run/systemd/user with the checkout's drop-in."""
    home = LAYERS / "home" / OWNER
    home.mkdir(parents=True)
    sh("systemd-sysusers", "--inline", f"u {OWNER} - - {home} /bin/sh")
    user = pwd.getpwnam(OWNER)
    os.chown(home, user.pw_uid, user.pw_gid)
    USER_UNITS.mkdir(parents=True, exist_ok=True)
    (USER_UNITS / SERVICE).write_bytes((UNITS / "user" / SERVICE).read_bytes())
    conf = drop_in(USER_UNITS, VENV_BIN / "apsisd")
    manager = f"user@{user.pw_uid}.service"
    with reachable([Path(os.path.realpath(sys.executable)), VENV_BIN / "apsisd"]):
        try:
            sh("systemctl", "start", "systemd-logind.service")
            sh("loginctl", "enable-linger", OWNER)
            wait_for(lambda: show(manager, "ActiveState") == "active", f"{manager} started for lingering")
            yield user
        finally:
            subprocess.run(["loginctl", "disable-linger", OWNER], timeout=60)
            subprocess.run(["systemctl", "stop", manager, "systemd-logind.service"], timeout=60)
            (USER_UNITS / SERVICE).unlink()
            conf.unlink()
            conf.parent.rmdir()


def test_the_user_unit_runs_a_users_jobs_on_their_own_manager(lingering: pwd.struct_passwd) -> None:
    user = lingering
    as_owner(user, "systemctl", "--user", "daemon-reload")
    as_owner(user, "systemctl", "--user", "start", SERVICE)  # returns at READY=1
    unit = shipped(UNITS / "user" / SERVICE)
    for name in ("NoNewPrivileges", "MemoryDenyWriteExecute", "RestrictNamespaces", "LockPersonality", "UMask"):
        assert as_owner(user, "systemctl", "--user", "show", "--value", "-p", name, SERVICE) == unit[name], name
    jobs = Path(user.pw_dir) / ".config" / "apsis" / "jobs"  # made by the unit: apsisd would not start without
    assert jobs.is_dir() and jobs.stat().st_uid == user.pw_uid
    job(jobs, "mine", "schedule: {type: interval, interval: 1s}\nscheduling: {max_scheduled: 1}\n"
        "program: 'echo mine as $(id -un)'\n")
    wait_for(lambda: journal(f"_SYSTEMD_OWNER_UID={user.pw_uid}", f"MESSAGE=mine as {OWNER}"), "a run of mine")
    line = journal(f"_SYSTEMD_OWNER_UID={user.pw_uid}", f"MESSAGE=mine as {OWNER}")[0]
    assert line["_SYSTEMD_USER_UNIT"].startswith("apsis-r") and line["_SYSTEMD_USER_SLICE"] == "apsis.slice"
    assert line["_UID"] == str(user.pw_uid) and line["_SYSTEMD_UNIT"] == f"user@{user.pw_uid}.service"
    socket = Path(f"/run/user/{user.pw_uid}/apsis/api.sock")
    assert socket.is_socket() and socket.stat().st_uid == user.pw_uid
