"""apsisd: load the configuration and the jobs, take up the runs in flight, schedule until told to stop.

The one place that names concrete classes (SqliteStore, LocalHost): every
other room sees them through their protocols. Exit codes: 0 after a clean
stop, 1 when the jobs folder is not a folder or the state or the API's
addresses, tokens file or certificate cannot be used, 2 for a bad command
line or configuration file. Job files with problems do not stop it: their
jobs are held (recovery.py) and health says so.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import click

from agentd.local.host import LocalHost
from apsisd.api.access import Policy
from apsisd.api.app import make_app
from apsisd.api.sessions import SessionStore
from apsisd.api.state import ApiState
from apsisd.clock import WallClock
from apsisd.config.load import Config, Overrides, load_config
from apsisd.config.log_level import LogLevel
from apsisd.daemon.api_server import ServeError, TcpAccess, tcp_access
from apsisd.daemon.api_server import serve as serve_api
from apsisd.daemon.api_socket import socket_access
from apsisd.daemon.door import Door
from apsisd.daemon.fd_limit import raise_fd_limit
from apsisd.daemon.hosts import open_hosts, scheduler_identity
from apsisd.daemon.http import JsonPoster
from apsisd.daemon.logs import setup_logging
from apsisd.daemon.notify import Notifier
from apsisd.daemon.watch import watch_folders
from apsisd.errors import ApsisError, InvalidFiles, StoreError
from apsisd.jobs.load import load_jobs, read_jobs
from apsisd.jobs.model import JobSet
from apsisd.quantities import parse_instant
from apsisd.scheduler.metrics import RunMetrics
from apsisd.scheduler.recovery import recover
from apsisd.scheduler.reload import Reloader, ReloadResult
from apsisd.scheduler.service import Scheduler
from apsisd.store.sqlite import SqliteStore
from apsisd.web.app import install as install_web

log = logging.getLogger("apsisd")
DATABASE = "apsis.db"
SESSIONS = "web-sessions.json"  # the web page's sessions (api/sessions.py), in the state folder
STATUS_EVERY = 10.0
HELD_NAMED = 20  # held jobs named in the log line at start (each problem has its own line)
# Whatever apsisd makes (its state database, the socket's folder) is its own: others get in only where a file is
# opened to them on purpose (the API socket, daemon/api_socket.py). Runs are started by systemd, with their own.
UMASK = 0o077
FD_SPARE = 256  # descriptors apsisd needs besides the API's callers: the store, D-Bus, journal readers of runs


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="Configuration file (default /etc/apsis/apsisd.toml, or ~/.config/apsis/apsisd.toml).")
@click.option("--jobs", "jobs_dir", type=click.Path(path_type=Path), help="Jobs folder (overrides jobs_dir).")
@click.option("--calendars", "calendars_dir", type=click.Path(path_type=Path),
              help="Calendars folder (overrides calendars_dir).")
@click.option("--state", "state_dir", type=click.Path(path_type=Path), help="State folder (overrides state_dir).")
@click.option("--log-level", type=click.Choice([level.value for level in LogLevel]), help="Overrides log_level.")
@click.option("--since", metavar="TIME",
              help="Catch up only runs due at or after TIME (ISO 8601 with offset, or 'now') on this start.")
def main(config_file: Path | None, jobs_dir: Path | None, calendars_dir: Path | None, state_dir: Path | None,
         log_level: str | None, since: str | None) -> None:
    """The apsis scheduler daemon."""
    os.umask(UMASK)
    try:
        config = load_config(config_file, privileged=os.geteuid() == 0, env=os.environ, overrides=Overrides(
            jobs_dir=jobs_dir, calendars_dir=calendars_dir, state_dir=state_dir,
            log_level=LogLevel(log_level) if log_level else None))
        since_time = _since(since)
    except ApsisError as exc:
        click.echo(f"apsisd: {exc}", err=True)
        sys.exit(2)
    setup_logging(config.log_level)
    sys.exit(asyncio.run(serve(config, since_time)))


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text == "now":
        return WallClock().now()
    try:
        return parse_instant(text)
    except ApsisError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


async def serve(config: Config, since: datetime | None) -> int:
    """Run the daemon until SIGTERM or SIGINT; the exit code."""
    _check_fd_limit(raise_fd_limit(), config)
    notifier = Notifier()
    try:
        tcp = tcp_access(config)
    except InvalidFiles as exc:
        return _invalid(exc, f"the API's tokens file {config.api_tokens}", "tokens_invalid")
    except ApsisError as exc:
        log.error("apsisd: %s", exc)
        return 1
    try:
        jobs: JobSet = await asyncio.to_thread(read_jobs, config.jobs_dir, config.calendar_folders(),
                                                config.hosts.names())
    except ApsisError as exc:  # no jobs folder at all: nothing to schedule
        log.error("apsisd: %s", exc)
        return 1
    _held(jobs, config)
    try:
        store = await SqliteStore.open(config.state_dir / DATABASE)
    except ApsisError as exc:
        log.error("apsisd: %s", exc)
        return 1
    poster = JsonPoster()
    try:
        async with LocalHost(user_manager=os.geteuid() != 0) as local, contextlib.AsyncExitStack() as remotes:
            try:
                hosts = await open_hosts(remotes, local, config.hosts, config.ssh_known_hosts,
                                         scheduler_identity(config.state_dir))
            except ApsisError as exc:
                log.error("apsisd: %s", exc)
                return 1
            scheduler = Scheduler(store=store, hosts=hosts, groups=config.hosts.groups, clock=WallClock(), jobs=jobs,
                                  defaults=config.schedule, max_waiting=config.waiting_max_time, post_json=poster,
                                  unreachable_after={name: host.unreachable_after
                                                     for name, host in config.hosts.hosts.items()})
            reloader = Reloader(scheduler, partial(load_jobs, config.jobs_dir, config.calendar_folders(),
                                                   config.hosts.names()))
            metrics = RunMetrics(scheduler.ledger, lambda: scheduler.jobs.jobs, scheduler.ready.is_set,
                                 config.metrics_per_job_limit, lambda: scheduler.router.hosts)
            scheduler.records.listeners.append(metrics.observe)  # before recovery: its skips count too
            notifier.status("recovering runs in flight")
            try:
                await recover(scheduler, since)
            except StoreError as exc:  # systemd starts apsisd again (Restart=on-failure): until there is room
                log.error("apsisd: cannot record what it found at start: %s", exc, extra={"action": "store_failing"})
                return 1
            return await _until_stopped(config, scheduler, reloader, notifier, metrics, tcp)
    except ServeError as exc:
        log.error("apsisd: %s", exc)
        return 1
    finally:
        await poster.close()
        await store.close()


def _check_fd_limit(limit: int, config: Config) -> None:
    """A warning when the API's connections and streams could use up the files apsisd may open (each stream may
    hold a journalctl: 4 descriptors), with FD_SPARE for everything else."""
    limits = config.api_limits
    needed = limits.max_connections + 4 * limits.max_streams + FD_SPARE
    if limit < needed:
        log.warning("apsisd may open %d files, and the API's callers alone may hold up to %d ([api] max_connections"
                    " and max_streams); raise LimitNOFILE= or lower them", limit, needed,
                    extra={"action": "fd_limit"})


def _invalid(exc: InvalidFiles, what: str, action: str) -> int:
    """Each problem logged (FILE:LINE: ...), then what has them; the exit code."""
    for problem in exc.problems:
        log.error("%s", problem, extra={"action": action})
    log.error("apsisd: %s has %d problems; fix them and start again", what, len(exc.problems))
    return 1


def _held(jobs: JobSet, config: Config) -> None:
    """A jobs folder with problems does not stop apsisd (under Restart= that would be a loop, and one bad file
    would stop every job): each problem is logged once, and the jobs of the files with problems are held."""
    if not jobs.problems:
        return
    for problem in jobs.problems:
        log.error("%s", problem, extra={"action": "jobs_invalid"})
    held = sorted(jobs.held)
    named = ", ".join(held[:HELD_NAMED]) + (f" and {len(held) - HELD_NAMED} more" if len(held) > HELD_NAMED else "")
    log.error("apsisd: the jobs folder %s has %d problems; starting with the %d jobs that load, %d held (%s) until "
              "a reload reads their files again: fix them and reload", config.jobs_dir, len(jobs.problems),
              len(jobs.jobs), len(held), named or "none", extra={"action": "jobs_held"})


async def _until_stopped(config: Config, scheduler: Scheduler, reloader: Reloader, notifier: Notifier,
                         metrics: RunMetrics, tcp: TcpAccess) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def reload(why: str, dry_run: bool = False) -> ReloadResult:
        if dry_run:
            return await reloader.reload(dry_run=True)
        notifier.reloading()
        try:
            result = await reloader.reload()
        finally:
            notifier.ready(_status(scheduler))
        _log_reload(why, result)
        return result

    retrying = scheduler.records.health.retrying  # a reload the store refuses is made again (the API's: 503)
    hup_pending = hup_again = False

    async def reload_on_sighup() -> None:
        """The SIGHUPs' reloads, one at a time: those that come meanwhile make one more, not one each (while the
        store refuses writes each would retry for ever, side by side)."""
        nonlocal hup_pending, hup_again
        try:
            while True:
                hup_again = False
                await retrying("reload (SIGHUP)", partial(reload, "SIGHUP"))
                if not hup_again:
                    return
        finally:
            hup_pending = False

    def on_sighup() -> None:
        nonlocal hup_pending, hup_again
        if hup_pending:
            hup_again = True
            return
        hup_pending = True
        scheduler.spawn(reload_on_sighup(), "reload:SIGHUP")

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    # Served before anything starts: an address that cannot be served (ServeError) stops apsisd cleanly.
    policy = Policy(group=config.api_group, admin_group=config.api_admin_group, others_read=config.api_others == "read",
                    adhoc_users=config.api_adhoc_users)
    # The web page's sessions, for browsers signed in with a token (so only with a tokens file), kept in the state
    # folder so that they outlive a restart.
    sessions = SessionStore(config.state_dir / SESSIONS, config.web_session_lifetime, scheduler.clock.now) \
        if tcp.tokens is not None else None
    state = ApiState(scheduler=scheduler, reload=partial(reload, "the API"), policy=policy,
                     started=scheduler.clock.now(), metrics=metrics, tokens=tcp.tokens, limits=config.api_limits,
                     sessions=sessions, origin=config.web_origin)
    app = make_app(state)
    install_web(app)  # the web page, on the same addresses, under the same access check
    api = await serve_api(app, config.api_listen, tcp.tls,
                          socket_access(group=config.api_group, others_read=config.api_others == "read",
                                        admin_group=config.api_admin_group), Door(policy, config.api_limits))
    services: dict[str, Coroutine[Any, Any, None]] = {"scheduler": scheduler.run()}
    if config.reload_watch:
        services["watch"] = _watch(config, partial(retrying, "reload (the jobs folder changed)", partial(
            reload, "the jobs folder changed")), config.reload_debounce, config.reload_max_delay)
    services["watchdog"] = notifier.watchdog()
    services["status"] = _keep_status(scheduler, notifier)
    failed: list[tuple[str, BaseException]] = []
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_ends_apsisd(coro, name, stop, failed), name=name)
                 for name, coro in services.items()]
        notifier.ready(_status(scheduler))
        log.info("apsisd ready: %d jobs from %s, state in %s", len(scheduler.jobs.jobs), config.jobs_dir,
                 config.state_dir, extra={"action": "ready"})
        await stop.wait()
        notifier.stopping()
        log.info("apsisd stopping; runs on the host keep running", extra={"action": "stopping"})
        for task in tasks:
            task.cancel()
    for name, exc in failed:
        log.error("apsisd: %s failed: %s", name, exc, exc_info=exc)
    await api.cleanup()
    await scheduler.close()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(signum)
    return 1 if failed else 0


async def _ends_apsisd(service: Coroutine[Any, Any, None], name: str, stop: asyncio.Event,
                       failed: list[tuple[str, BaseException]]) -> None:
    """Run one of apsisd's services; any of them ending (a failure, noted in `failed`) stops apsisd."""
    try:
        await service
    except Exception as exc:
        failed.append((name, exc))
    stop.set()


async def _watch(config: Config, reload: Callable[[], Awaitable[ReloadResult]], debounce: float,
                 max_delay: float) -> None:
    """Reload on each burst of changes; a reload that fails is logged and the watch goes on (the jobs in force
    stay): whatever is dropped into the folder, the watch must not end apsisd."""
    async for _ in watch_folders([config.jobs_dir, *config.calendar_folders()], debounce=debounce,
                                 max_delay=max_delay):
        try:
            await reload()  # one the store refuses is made again until it is recorded
        except Exception:
            log.error("reload (the jobs folder changed) failed; the jobs in force are unchanged", exc_info=True,
                      extra={"action": "reload_failed"})


async def _keep_status(scheduler: Scheduler, notifier: Notifier) -> None:
    """`systemctl status apsisd` shows how much is in flight, at most STATUS_EVERY seconds old."""
    while True:
        await asyncio.sleep(STATUS_EVERY)
        notifier.status(_status(scheduler))


def _status(scheduler: Scheduler) -> str:
    held = f", {len(scheduler.jobs.held)} held (their files have problems)" if scheduler.jobs.held else ""
    return f"scheduling {len(scheduler.jobs.jobs)} jobs{held}; {len(scheduler.ledger)} runs in flight"


def _log_reload(why: str, result: ReloadResult) -> None:
    if result.errors:
        for problem in result.errors:
            log.error("%s", problem, extra={"action": "reload_refused"})
        log.error("reload (%s) refused: %d problems in the jobs folder; the jobs in force are unchanged", why,
                  len(result.errors), extra={"action": "reload_refused"})
    elif result.applied:
        log.info("reloaded (%s): %d added, %d changed, %d removed", why, len(result.added), len(result.changed),
                 len(result.removed), extra={"action": "reloaded"})
    else:
        log.info("reload (%s): no change", why, extra={"action": "reloaded"})
