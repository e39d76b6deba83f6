"""`apsis run`: a run of a job (`run JOB k=v`), or of a program of one's own (`run --shell 'CMD'`,
`run -- ARGV...`), now or --at a time; with --wait, its output as it comes and its exit status as apsis's own.

Waiting survives apsisd restarting: the output is asked for again from the
byte it had reached (an HTTP range), and the wait goes on.
"""
from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import click

from apsisd.cli.client import Client, Unreachable
from apsisd.cli.complete import job_ids
from apsisd.cli.render import duration, print_json, readable, when
from apsisd.cli.run_view import NO_VERDICT, elapsed, ending, exit_status
from apsisd.cli.session import FAILED, Failed, Session, fail, fails_cleanly, pass_session, utc_option, warn
from apsisd.cli.when import BadTime, parse_time
from apsisd.errors import ApsisError
from apsisd.runs.state import State
from apsisd.text import escaped

AFTER_DASHES = "apsis.after_dashes"  # ctx.meta: how many words followed a `--`
RETRY = 0.5  # seconds between attempts to reach apsisd again while waiting
INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class RunCommand(click.Command):
    """`run` notes whether its words came after `--` (an ad hoc argv) before click drops the `--`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            ctx.meta[AFTER_DASHES] = len(args) - args.index("--") - 1
        return super().parse_args(ctx, args)


def _complete_words(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The first word is a job id; the args after it are the operator's to write."""
    return job_ids(ctx, param, incomplete) if not ctx.params.get("words") else []


@click.command("run", cls=RunCommand)
@click.argument("words", nargs=-1, metavar="[JOB [K=V]...] | --shell CMD | -- ARGV...",
                shell_complete=_complete_words)
@click.option("--shell", "command", metavar="CMD", help="Run this shell command (an ad hoc run).")
@click.option("--name", metavar="NAME", help="The ad hoc run's job id [default: adhoc].")
@click.option("--host", metavar="HOST", help="The host or group of apsisd.toml the ad hoc run goes to "
                                             "[default: local].")
@click.option("--at", metavar="TIME", help="When to run it [default: now]. TIME: see below.")
@click.option("--count", type=click.IntRange(1, 1000), default=1, show_default=True, help="How many runs to make.")
@click.option("--wait", is_flag=True, help="Print its output as it comes, and exit as the run did (see below).")
@click.option("-q", "--quiet", is_flag=True, help="With --wait: no lines of apsis's own on stderr (errors apart).")
@click.option("--json", "as_json", is_flag=True, help="Print apsisd's answer as JSON (with --wait: the finished "
                                                      "run, not its output).")
@click.pass_context
@utc_option
@pass_session
@fails_cleanly
def run(session: Session, ctx: click.Context, words: tuple[str, ...], command: str | None, name: str | None,
        host: str | None, at: str | None, count: int, wait: bool, quiet: bool, as_json: bool) -> None:
    """Make a run: of JOB with its args as K=V, or of a program of your own.

    \b
      apsis run etl/load date=2026-03-09 region=EU
      apsis run --at 02:00 backup            (its next 02:00, local)
      apsis run --shell 'pg_dump db > /srv/db.sql' --name dump
      apsis run --wait -- /usr/bin/rsync -a /src /dst
      apsis run --host db1 --shell 'vacuumdb --all'

    TIME is `now`, +DURATION from now (+10m, +1h30m), HH:MM (its next
    occurrence, local), or an ISO 8601 time (2026-03-09T14:00 local,
    2026-03-09T14:00:00+01:00).

    With --wait, the exit status is the run's: 0 success; the program's own
    status; 128+N when it was killed by signal N; 124 when it hit its time
    limit; 125 when it ended in error or was skipped, or apsis failed.
    """
    try:
        body = _request(words, ctx.meta.get(AFTER_DASHES) == len(words) > 0, command, name, at, session, host)
        if wait and count > 1:
            raise Failed("--wait follows one run; leave out --count")
        if count > 1:
            body["count"] = count
        made = session.client.post("/api/v1/runs", body=body)["runs"]
    except ApsisError as exc:
        fail(str(exc), NO_VERDICT if wait else FAILED)
    if wait:
        _wait(session, made[0], quiet, as_json)
    elif as_json:
        print_json({"runs": made})
    else:
        for created in readable(made):
            args = "".join(f" {name}={value}" for name, value in created["args"].items())
            click.echo(f"{created['run_id']} {created['job_id']}{args}: {created['state']}, for "
                       f"{when(created['times']['schedule'], session.zone)}")


def _request(words: tuple[str, ...], argv: bool, command: str | None, name: str | None, at: str | None,
             session: Session, host: str | None = None) -> dict[str, Any]:
    """The body of POST /api/v1/runs for what was written."""
    if command is not None and words:
        raise Failed("give either a job (or an argv after --) or --shell CMD, not both")
    if command is None and not words:
        raise Failed("give a job to run (apsis run JOB [K=V]...), --shell 'CMD', or -- ARGV...")
    body: dict[str, Any]
    if command is not None or argv:
        body = {"program": command if command is not None else list(words)}
        if name:
            body["name"] = name
        if host:
            body["host"] = host
    else:
        if name:
            raise Failed("--name names an ad hoc run (--shell or -- ARGV); a job's runs have its id")
        if host:
            raise Failed("--host is for an ad hoc run (--shell or -- ARGV); a job's runs go to its host:")
        job_id, *pairs_ = words
        bad = next((pair for pair in pairs_ if "=" not in pair), None)
        if bad is not None:
            raise Failed(f"{bad!r} is not an arg; write them as K=V after the job, such as date=2026-03-09")
        body = {"job_id": job_id, "args": dict(pair.split("=", 1) for pair in pairs_)}
    if at is not None:
        try:
            moment = parse_time(at, now=datetime.now(UTC), zone=session.zone, upcoming=True)
        except BadTime as exc:
            raise Failed(f"--at: {exc}") from None
        body["at"] = moment.isoformat()
    return body


def _wait(session: Session, run: dict[str, Any], quiet: bool, as_json: bool) -> None:
    run_id = run["run_id"]
    if not quiet:
        click.echo(f"Running as {run_id} ({escaped(run['job_id'])}); Ctrl-C stops waiting, not the run.", err=True)
    try:
        ended = _follow(session.client, run_id, None if as_json else sys.stdout.buffer)
    except KeyboardInterrupt:
        fail(f"stopped waiting; {run_id} goes on (apsis stop {run_id} stops it)", INTERRUPTED)
    except ApsisError as exc:
        fail(str(exc), NO_VERDICT)
    status = exit_status(ended)
    if as_json:
        print_json(ended)
    state = ended["state"]
    if state in (State.ERROR, State.SKIPPED):
        warn(f"{run_id} ended {state}" + (f": {ended['reason']}" if ended.get("reason") else ""))  # warn escapes
    elif not quiet:
        ran = duration(elapsed(ended, datetime.now(UTC)))
        click.echo(f"Finished {run_id}: {state} ({ending(ended)}), ran {ran}.", err=True)
    sys.exit(status)


def _follow(client: Client, run_id: str, out: IO[bytes] | None) -> dict[str, Any]:
    """Copy the run's output to `out` (None: read and drop it) until the run has ended; the finished run.

    When apsisd goes away (restarting), say so, try again every RETRY seconds,
    and carry on from the byte reached.
    """
    written, lost = 0, False
    while True:
        got = written
        try:
            headers = {"Range": f"bytes={written}-"} if written else {}
            with client.stream(f"/api/v1/runs/{run_id}/output", [("follow", "1")], headers) as response:
                if lost:
                    warn(f"reached apsisd again; following {run_id} on")
                    lost = False
                for chunk in client.chunks(response):  # from byte `written` on (a followed answer is 200)
                    if out is not None:
                        out.write(chunk)
                        out.flush()
                    written += len(chunk)
            run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}")
        except Unreachable as exc:
            if not lost:
                warn(f"{exc}; trying again every {RETRY:g}s")
                lost = True
            time.sleep(RETRY)
            continue
        if State(run["state"]).finished:
            return run
        if written == got:
            time.sleep(RETRY)  # the stream ended early with nothing new (apsisd stopping): not a busy loop


commands = (run,)
