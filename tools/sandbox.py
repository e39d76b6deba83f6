#!/usr/bin/env python3
"""A throwaway systemd, booted as PID 1 of its own namespaces, to run tests and demos in.

The machines we develop and test on do not run systemd as PID 1, yet apsis is
nothing without a real systemd. This boots one in about half a second, runs a
command inside it (the process itself inside, so D-Bus, the journal and unit
PIDs are native), and always tears it down, leaving the host as it was.

Where the host already runs systemd as PID 1 the command runs directly on it,
unless APSIS_SANDBOX_FORCE=1.

Deliberately standard library only: it runs before any virtualenv exists.
See docs/operations.md ("The systemd sandbox") for the traps it avoids.

With `--hosts N`, N peer sandboxes boot beside it, in parallel, each joined
to the main one by a veth pair and running a test sshd (tools/sandbox_peers.py);
the command learns them from $APSIS_SANDBOX_HOSTS. About forty sandboxes fit
in the kernel's default cap on root's inotify instances; more need
`--raise-inotify-limit` (tools/sandbox_inotify.py).

With `--root overlay` each sandbox's root is the host's under an overlay whose
writes stay in the sandbox's memory: packages can be installed in it, and the
host's disk never sees them.

With `--forward PORT[:INNER]` (repeatable), 127.0.0.1:PORT of this machine is
relayed to 127.0.0.1:INNER inside the main sandbox while the command runs
(tools/sandbox_forward.py): a browser here reaches a server in there.

Usage: tools/sandbox.py run [--name NAME] [--hosts N] [--root shared|overlay] [--raise-inotify-limit]
                            [--forward PORT[:INNER]]... -- CMD [ARGS...]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sandbox_forward
import sandbox_inotify
import sandbox_peers

CGROUP_V2 = Path("/sys/fs/cgroup/unified")
PREFIX = "apsis-sandbox-"
BOOT_TIMEOUT = 60.0

# Units that would touch state outside the sandbox's namespaces (the kernel's
# sysctls, binfmt and modules, the host's devices through udev, its clock, /etc,
# /var) or start work we never asked for (timers: logrotate, apt, man-db). They
# are masked through the sandbox's private /run, never through the host's /etc.
MASKED_UNITS = (
    "timers.target",
    "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-setup-dev.service",
    "systemd-tmpfiles-clean.timer",
    "systemd-random-seed.service",
    "systemd-update-utmp.service",
    "systemd-sysusers.service",
    "systemd-sysctl.service",
    "systemd-modules-load.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "systemd-firstboot.service",
    "systemd-machine-id-commit.service",
    "systemd-repart.service",
    "systemd-pcrphase.service",
    "systemd-pcrphase-sysinit.service",
    "kmod-static-nodes.service",
    "systemd-timesyncd.service",
    "systemd-pstore.service",
    "systemd-journald-audit.socket",
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-hwdb-update.service",
    "systemd-journal-catalog-update.service",
    "systemd-update-done.service",
    "ldconfig.service",
    "systemd-remount-fs.service",
    "e2scrub_reap.service",
    # No console here to ask a password on, and each holds an inotify instance
    # while it waits: a scarce thing with fifty sandboxes (tools/sandbox_inotify.py).
    "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path",
)

# Folders of the shared root file system that nothing inside may write: bound
# read-only (a per-mount flag, "remount,bind,ro"; a plain "remount,ro" would
# change the host's superblock). Then fresh tmpfs where writing is expected.
READ_ONLY = ("/etc", "/root", "/var", "/home", "/usr", "/boot")
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/var/log/journal")  # and /run, mounted first

# The root a sandbox sees, shared: the host's own, its folders bound read-only
# and tmpfs where writing is expected.
SHARED_ROOT = r"""
mount --make-rprivate /
mount -t proc proc /proc
# /run first: it holds the binds of the folders to keep (a checkout under /tmp,
# /var/tmp or a read-only folder) while the mounts below hide or freeze them.
mount -t tmpfs -o mode=0755 tmpfs /run
n=0
for d in {keep}; do
  mkdir -p "/run/sandbox-keep/$n"
  mount --bind "$d" "/run/sandbox-keep/$n"
  n=$((n + 1))
done
for d in {read_only}; do
  [ -d "$d" ] || continue
  mount --bind "$d" "$d"
  mount -o remount,bind,ro "$d"
done
for d in {private_tmpfs}; do
  [ -d "$d" ] || continue
  mount -t tmpfs -o mode=0755 tmpfs "$d"
done
chmod 1777 /tmp /var/tmp
# Each kept folder back at its own path, writable, over whatever now hides it.
n=0
for d in {keep}; do
  mkdir -p "$d"
  mount --move "/run/sandbox-keep/$n" "$d"
  n=$((n + 1))
done
rm -rf /run/sandbox-keep
"""

# The root a sandbox sees, overlay: the host's root file system read through an
# overlay whose writes land in a tmpfs of the sandbox's mount namespace, so
# they die with it (a SIGKILL included) and nothing is written to the host's
# disk. Packages can be installed in it (`dpkg` writes /etc, /usr and /var).
# Every mount is made under the new root before pivot_root, the kept folders
# last so that no tmpfs hides them.
OVERLAY_ROOT = r"""
mount --make-rprivate /
mount -t tmpfs -o mode=0700,size={overlay_size} tmpfs /run
mkdir /run/upper /run/work /run/root
mount -t overlay overlay -o lowerdir=/,upperdir=/run/upper,workdir=/run/work /run/root
mount -t tmpfs -o mode=0755 tmpfs /run/root/run
for d in {private_tmpfs}; do
  [ -d "/run/root$d" ] || continue
  mount -t tmpfs -o mode=0755 tmpfs "/run/root$d"
done
mount --rbind /dev /run/root/dev
mount --rbind /sys /run/root/sys
for d in {keep}; do
  mkdir -p "/run/root$d"
  mount --rbind "$d" "/run/root$d"
done
cd /run/root
mkdir -p .sandbox-old-root
pivot_root . .sandbox-old-root
cd /
mount -t proc proc /proc  # before umount, which reads /proc/self/mountinfo
umount -l /.sandbox-old-root
rmdir /.sandbox-old-root
chmod 1777 /tmp /var/tmp
"""

# After either root: systemd's own needs, then systemd itself.
BOOT = r"""
# On a booted host / is shared (systemd makes it so, but not in a container):
# systemd mounts a unit's credentials in a child's namespace and they reach
# /run/credentials by propagation. Our own /run, shared within the sandbox.
mount --make-shared /run
# The host's cgroup tmpfs must never be seen (let alone remounted) by this
# systemd: detach our private copy of it and mount cgroup2 in its place,
# rooted at the sandbox's own cgroup through the cgroup namespace.
umount -l /sys/fs/cgroup
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mkdir -p /run/systemd/system
for u in {masked}; do ln -s /dev/null "/run/systemd/system/$u"; done
hostname {name}
# systemd sets the hostname from /etc/hostname at boot (the host's): show it ours.
if [ -f /etc/hostname ]; then
  echo {name} > /run/sandbox-hostname
  mount --bind /run/sandbox-hostname /etc/hostname
fi
ip link set lo up
# systemd (PID 1 and a unit's forked child) writes to the kernel's log while journald is away (restarting,
# re-executing): that log is the host's, which must not take the sandbox's lines. Here it goes nowhere.
mount --bind /dev/null /dev/kmsg
export container=apsis-sandbox
exec /lib/systemd/systemd --system --unit=basic.target --show-status=false --log-target=journal-or-kmsg
"""

ROOTS = {"shared": SHARED_ROOT, "overlay": OVERLAY_ROOT}
OVERLAY_SIZE = "4g"  # what packages installed inside may write, in memory


class SandboxError(Exception):
    """The sandbox could not be booted; nothing of it is left behind."""


def host_runs_systemd() -> bool:
    """True where systemd is PID 1 here, so the sandbox is not needed."""
    try:
        comm = Path("/proc/1/comm").read_text().strip()
    except OSError:
        return False
    return comm == "systemd" and Path("/run/systemd/system").is_dir()


def hidden_inside(folders: Iterable[str], root: str = "shared") -> list[str]:
    """Of `folders`, those the sandbox's mounts would hide or make read-only, outermost only.

    A checkout under /tmp or /var/tmp would vanish under the fresh tmpfs, one
    under /home or /var would be read-only: the sandbox binds each back at its
    own path. Under an overlay root, any folder's writes would stay in the
    overlay: all are bound. One under /run cannot be kept (/run is where they wait).
    """
    covered = ("/",) if root == "overlay" else (*PRIVATE_TMPFS, *READ_ONLY)
    found: list[str] = []
    for folder in sorted({os.path.realpath(f) for f in folders}):
        if any(_under(folder, k) for k in found):
            continue
        if _under(folder, "/run"):
            raise SandboxError(f"{folder} is under /run, which the sandbox replaces: work from another folder")
        if any(_under(folder, c) for c in covered):
            found.append(folder)
    return found


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_cgroup_tree(root: Path, deadline: float) -> None:
    """rmdir a cgroup tree depth-first, waiting for its processes to be gone."""
    while True:
        leftovers = []
        for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError:
                leftovers.append(dirpath)
        if not leftovers or time.monotonic() > deadline:
            if leftovers:
                raise SandboxError(f"could not remove cgroups {leftovers}")
            return
        time.sleep(0.05)


def sweep_stale() -> list[str]:
    """Remove cgroups of sandboxes whose harness died without tearing down (SIGKILL)."""
    removed = []
    if not CGROUP_V2.is_dir():
        return removed
    for cg in CGROUP_V2.glob(PREFIX + "*"):
        try:
            owner = int(cg.name[len(PREFIX):].split("-")[0])
        except ValueError:
            continue
        if _alive(owner):
            continue
        for procs in cg.rglob("cgroup.procs"):
            for pid in procs.read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        _remove_cgroup_tree(cg, time.monotonic() + 10)
        removed.append(cg.name)
    return removed


def _die_with_parent() -> None:
    """Runs in the child before exec: if the harness dies, so does the sandbox."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


class Sandbox:
    """One booted systemd; use as a context manager so teardown always happens."""

    def __init__(self, name: str | None = None, keep: Iterable[str] = (), hostname: str | None = None,
                 root: str = "shared") -> None:
        if root not in ROOTS:
            raise SandboxError(f"root {root!r}: one of {', '.join(ROOTS)}")
        self.root = root
        self.keep = hidden_inside(keep, root)
        self.name = name or f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        if not self.name.startswith(PREFIX + str(os.getpid())):
            self.name = f"{PREFIX}{os.getpid()}-{self.name}"
        self.hostname = hostname or self.name[:63]
        self.cgroup = CGROUP_V2 / self.name
        self.pid: int | None = None  # systemd, as the host sees it
        self._unshare: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sandbox:
        self.boot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    def boot(self) -> None:
        self.start()
        self.wait_running()

    def start(self) -> None:
        """Fork the sandbox's PID 1 (quick); wait_running() then waits for its boot (slow, can be parallel)."""
        if os.geteuid() != 0:
            raise SandboxError("the systemd sandbox needs root (namespaces, cgroups)")
        if not CGROUP_V2.is_dir():
            raise SandboxError(f"no cgroup v2 hierarchy at {CGROUP_V2}")
        sweep_stale()
        self.cgroup.mkdir()
        try:
            self._start()
        except BaseException:
            self.teardown()
            raise

    def wait_running(self) -> None:
        try:
            self._wait_running()
        except BaseException:
            self.teardown()
            raise

    def _start(self) -> None:
        script = "set -eu\n" + (ROOTS[self.root] + BOOT).format(
            overlay_size=OVERLAY_SIZE,
            read_only=" ".join(READ_ONLY),
            private_tmpfs=" ".join(PRIVATE_TMPFS),
            keep=" ".join(shlex.quote(k) for k in self.keep),
            masked=" ".join(MASKED_UNITS),
            name=self.hostname,
        )
        procs = self.cgroup / "cgroup.procs"

        def enter_cgroup() -> None:
            _die_with_parent()
            procs.write_text(str(os.getpid()))

        self._unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--cgroup",
             "--uts", "--net", "--ipc", "/bin/sh", "-c", script],
            preexec_fn=enter_cgroup,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children")
        while self.pid is None:
            if self._unshare.poll() is not None:
                err = self._unshare.stderr.read().decode(errors="replace") if self._unshare.stderr else ""
                raise SandboxError(f"sandbox exited at boot: {err.strip()}")
            try:
                kids = children.read_text().split()
            except FileNotFoundError:
                kids = []
            if kids:
                self.pid = int(kids[0])
            elif time.monotonic() > deadline:
                raise SandboxError("sandbox did not fork its PID 1")
            else:
                time.sleep(0.01)

    def _wait_running(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        state = ""
        while time.monotonic() < deadline:
            if self._unshare is not None and self._unshare.poll() is not None:
                err = self._unshare.stderr.read().decode(errors="replace") if self._unshare.stderr else ""
                raise SandboxError(f"sandbox systemd exited at boot: {err.strip()}")
            # --wait needs the bus; until systemd has exec'd, there is none.
            if Path(f"/proc/{self.pid}/comm").read_text().strip() != "systemd":
                time.sleep(0.02)  # the inner script is still mounting: nothing to ask yet
                continue
            proc = subprocess.run(
                [*self._nsenter([]), "systemctl", "is-system-running"],
                capture_output=True, text=True, timeout=BOOT_TIMEOUT,
            )
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                if state == "degraded":
                    failed = subprocess.run(
                        [*self._nsenter([]), "systemctl", "--failed", "--no-legend", "--plain"],
                        capture_output=True, text=True, timeout=30,
                    ).stdout
                    print(f"sandbox {self.name}: degraded: {failed.strip()}", file=sys.stderr)
                return
            time.sleep(0.05)
        raise SandboxError(f"sandbox systemd not running after {BOOT_TIMEOUT}s (state {state!r})")

    def enter_argv(self, argv: list[str], cwd: str | None = None) -> list[str]:
        """The command line that runs argv inside this sandbox."""
        assert self.pid is not None
        wd = [f"--wd={cwd}"] if cwd else []
        # Into the sandbox's own cgroup (the root of its tree, as it sees it),
        # so the command is a process of that systemd host like any other.
        # Only where cgroup2 is mounted there: before the sandbox has mounted
        # it, /sys/fs/cgroup is the host's tmpfs, and a write would leak a file.
        into_cgroup = ["/bin/sh", "-c", '[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || '
                       '{ echo "sandbox: no cgroup2 at /sys/fs/cgroup" >&2; exit 125; }; '
                       'echo $$ > /sys/fs/cgroup/cgroup.procs && exec "$@"', "sh"]
        return [*self._nsenter(wd), *into_cgroup, *argv]

    def _nsenter(self, extra: list[str]) -> list[str]:
        assert self.pid is not None
        return ["nsenter", "-t", str(self.pid), "-a", *extra]

    def run(self, argv: list[str], env: dict[str, str] | None = None,
            **kwargs: object) -> subprocess.CompletedProcess:
        env = dict(os.environ, **(env or {}), APSIS_SANDBOX=self.name)
        return subprocess.run(
            self.enter_argv(argv, cwd=os.getcwd()), env=env, **kwargs  # type: ignore[arg-type]
        )

    def teardown(self) -> None:
        """Kill the namespace's PID 1 (and with it every process inside), then its cgroups."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None  # once reaped, that number may be another process's: never kill it twice
        if self._unshare is not None:
            # unshare reaps its child (our systemd) and exits; only if it does
            # not, kill it too (its child would then be left for init to reap).
            try:
                self._unshare.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._unshare.kill()
                self._unshare.wait()
            if self._unshare.stderr:
                self._unshare.stderr.close()
            self._unshare = None
        if self.cgroup.exists():
            _remove_cgroup_tree(self.cgroup, time.monotonic() + 30)


class Hosts:
    """The main sandbox and `count` peers, booted in parallel and joined; a context manager.

    The PID 1s are forked one after the other (fork with a pre-exec hook is
    not for threads), then their boots awaited side by side, then each peer
    joined and its sshd started. Teardown kills every sandbox and removes
    every cgroup and the state folder, whatever failed and wherever.
    """

    def __init__(self, checkout: Path, count: int, name: str | None = None, keep: Iterable[str] = (),
                 raise_inotify: bool = False, root: str = "shared") -> None:
        if not 0 <= count <= sandbox_peers.MAX_PEERS:
            raise SandboxError(f"--hosts {count}: between 0 and {sandbox_peers.MAX_PEERS}")
        keep = list(keep)
        self.main = Sandbox(name, keep=keep, root=root)
        self.peers = [Sandbox(f"{self.main.name}-host{i + 1}", keep=keep, hostname=f"host{i + 1}", root=root)
                      for i in range(count)]
        self.checkout = checkout
        self.state = sandbox_peers.state_folder(checkout, self.main.name)
        self.env: dict[str, str] = {}
        self.raise_inotify = raise_inotify
        self.raised_inotify = False

    def __enter__(self) -> Hosts:
        try:
            self._boot()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    def _boot(self) -> None:
        sweep_stale()
        sandbox_peers.sweep_stale_state(self.checkout, PREFIX, _alive)
        try:
            self.raised_inotify = sandbox_inotify.make_room(1 + len(self.peers), self.raise_inotify, _alive)
        except sandbox_inotify.RoomError as exc:
            raise SandboxError(str(exc)) from exc
        boxes = [self.main, *self.peers]
        for box in boxes:
            box.start()
        try:
            # The peers' keys are made while the systemds boot.
            peers = sandbox_peers.make_peers(self.state, self.checkout, len(self.peers)) if self.peers else []
        except (subprocess.SubprocessError, OSError) as exc:
            raise SandboxError(f"peer hosts: {exc}") from exc
        with ThreadPoolExecutor(len(boxes), thread_name_prefix="sandbox-boot") as pool:
            for done in [pool.submit(box.wait_running) for box in boxes]:
                done.result()
        if not peers:
            return
        try:
            with ThreadPoolExecutor(len(peers), thread_name_prefix="sandbox-join") as pool:
                for done in [pool.submit(sandbox_peers.join, self.main, box, peer)
                             for box, peer in zip(self.peers, peers, strict=True)]:
                    done.result()
            sandbox_peers.wait_sshd(peers)
        except (sandbox_peers.PeerError, subprocess.SubprocessError, OSError) as exc:
            raise SandboxError(f"peer hosts: {exc}") from exc
        self.env[sandbox_peers.HOSTS_ENV] = str(sandbox_peers.hosts_file(self.state, peers))

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        return self.main.run(argv, env=self.env)

    def teardown(self) -> None:
        """Every sandbox, then the state folder; a failure to remove one does not spare the others."""
        errors = []
        for box in [*self.peers, self.main]:
            try:
                box.teardown()
            except SandboxError as exc:
                errors.append(str(exc))
        sandbox_peers.remove_state(self.state)
        if self.raised_inotify:
            sandbox_inotify.release(_alive)
            self.raised_inotify = False
        if errors:
            raise SandboxError("; ".join(errors))


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _forward(text: str) -> sandbox_forward.Forward:
    try:
        return sandbox_forward.parse(text)
    except sandbox_forward.ForwardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("run", help="run a command inside a fresh sandbox (or on this host's systemd)")
    run.add_argument("--name", help="sandbox name (default: unique per harness)")
    run.add_argument("--hosts", type=int, default=0, metavar="N",
                     help="also boot N peer hosts joined over veth, each with a test sshd ($APSIS_SANDBOX_HOSTS)")
    run.add_argument("--root", choices=sorted(ROOTS), default="shared",
                     help="shared: the host's root, read-only but for tmpfs (default); overlay: the host's root "
                          "under an overlay whose writes stay in memory (packages can be installed)")
    run.add_argument("--raise-inotify-limit", action="store_true",
                     help="if the sandboxes need more inotify instances than the kernel allows root, raise "
                          "fs.inotify.max_user_instances for this run (put back after)")
    run.add_argument("--forward", type=_forward, action="append", default=[], metavar="PORT[:INNER]",
                     help="while the command runs, relay 127.0.0.1:PORT here (loopback only) to 127.0.0.1:INNER "
                          "(default PORT) inside the main sandbox; repeatable")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("sweep", help="remove what sandboxes killed by SIGKILL left behind")
    args = parser.parse_args(argv)
    checkout = Path(__file__).resolve().parents[1]
    if args.verb == "sweep":
        for name in [*sweep_stale(), *sandbox_peers.sweep_stale_state(checkout, PREFIX, _alive)]:
            print(f"removed stale {name}")
        sandbox_inotify.sweep(_alive)
        return 0
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("run needs a command")
    if len({f.port for f in args.forward}) != len(args.forward):
        parser.error("--forward: each port of this machine once")
    if host_runs_systemd() and os.environ.get("APSIS_SANDBOX_FORCE") != "1":
        print("sandbox: this host runs systemd as PID 1; using it directly"
              + (", without peer hosts (they are sandboxes: tests that need them skip)" if args.hosts else ""),
              file=sys.stderr)
        if args.forward:
            print("sandbox: --forward does nothing here: no sandbox, the command's ports are this host's own",
                  file=sys.stderr)
        return subprocess.run(cmd).returncode
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    try:
        # The checkout and the command's folder stay visible (and writable) inside.
        with Hosts(checkout, args.hosts, args.name, keep=(str(checkout), os.getcwd()),
                   raise_inotify=args.raise_inotify_limit, root=args.root) as hosts:
            print(f"sandbox: {hosts.main.name} booted (systemd pid {hosts.main.pid})"
                  + (f" with {args.hosts} peer hosts" if args.hosts else ""), file=sys.stderr)
            if not args.forward:
                return hosts.run(cmd).returncode
            assert hosts.main.pid is not None
            with sandbox_forward.Forwarder(hosts.main.pid, args.forward) as forwarder:
                print(f"sandbox: forwarding {forwarder.describe()} inside, while the command runs",
                      file=sys.stderr)
                return hosts.run(cmd).returncode
    except sandbox_forward.ForwardError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 125
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 125
    except KeyboardInterrupt:
        print("sandbox: interrupted; torn down", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
