"""What an operator does to runs and to the jobs folder: start, skip, stop, rerun (each for several runs at once),
signal, mark, reload.

apsisd checks each against the run's state; its refusal (409: the state
does not allow it, 404: no such run) is printed as it words it. With several
runs, each is tried, each result printed, and the exit status is 2 if any
was refused.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from apsisd.cli.complete import run_ids, signal_names
from apsisd.cli.render import plural, print_answer, print_json, readable
from apsisd.cli.session import FAILED, FOUND, Session, fails_cleanly, json_option, pass_session, warn
from apsisd.errors import ApsisError
from apsisd.runs.state import FINISHED, ON_HOST, State
from apsisd.text import escaped

Describe = Callable[[str, dict[str, Any]], str]
FINISHED_STATES = click.Choice(sorted(str(state) for state in FINISHED))


def _operation(name: str, verb: str, summary: str, complete_states: tuple[State, ...],
               describe: Describe) -> click.Command:
    """A command that POSTs /api/v1/runs/RUN/`verb` for each RUN given and prints each result."""

    @click.command(name, help=f"{summary}\n\nSeveral RUNs may be given: each is tried, and its result printed.")
    @click.argument("run_ids", metavar="RUN...", nargs=-1, required=True, shell_complete=run_ids(*complete_states))
    @click.option("--json", "as_json", is_flag=True, help="Print the runs as apsisd answered, as a JSON list.")
    @pass_session
    @fails_cleanly
    def command(session: Session, run_ids: tuple[str, ...], as_json: bool) -> None:
        done, refused = [], 0
        for run_id in run_ids:
            try:
                result = session.client.post(f"/api/v1/runs/{run_id}/{verb}")
            except ApsisError as exc:
                if len(run_ids) == 1:
                    raise
                warn(str(exc))
                refused += 1
                continue
            done.append(result)
            if not as_json:
                click.echo(describe(escaped(run_id), readable(result)))
        if as_json:
            print_json(done)
        if refused:
            sys.exit(FAILED)

    return command


start = _operation("start", "start", "Start each scheduled or waiting RUN now, without waiting for its time or its "
                   "conditions.", (State.SCHEDULED, State.WAITING), lambda run_id, run: f"{run_id}: {run['state']}")
skip = _operation("skip", "skip", "Skip each scheduled or waiting RUN: it will not run.",
                  (State.SCHEDULED, State.WAITING), lambda run_id, run: f"{run_id}: {run['state']}")
stop = _operation("stop", "stop", "Stop each running RUN, as systemctl stop stops its unit.",
                  (State.RUNNING,), lambda run_id, run: f"{run_id}: {run['state']}")
rerun = _operation("rerun", "rerun", "Run each finished RUN again, with the same job and args, as a new run.",
                   tuple(FINISHED), lambda run_id, run: f"{run_id}: rerun as {run['run_id']} ({run['state']})")


@click.command("signal")
@click.argument("run_id", metavar="RUN", shell_complete=run_ids(*ON_HOST))
@click.argument("signal", metavar="SIG", shell_complete=signal_names)
@json_option("Print the run as apsisd answered, as JSON.")
@pass_session
@fails_cleanly
def signal(session: Session, run_id: str, signal: str, as_json: bool) -> None:
    """Send signal SIG (HUP, USR1, TERM, 15...) to every process of the running RUN; its state does not change."""
    run = session.client.post(f"/api/v1/runs/{run_id}/signal", [("signal", signal)])
    print_answer(run, as_json, [escaped(f"{run_id}: sent {signal}")])


@click.command("mark")
@click.argument("run_id", metavar="RUN", shell_complete=run_ids(*FINISHED))
@click.argument("state", metavar="STATE", type=FINISHED_STATES)
@json_option("Print the run as apsisd answered, as JSON.")
@pass_session
@fails_cleanly
def mark(session: Session, run_id: str, state: str, as_json: bool) -> None:
    """Mark the finished RUN as another finished STATE (success, failure, error, skipped), correcting its record.

    Its log keeps what it was and who marked it.
    """
    run = session.client.post(f"/api/v1/runs/{run_id}/mark", [("state", state)])
    print_answer(run, as_json, [escaped(f"{run_id}: {run['state']}")])


@click.command("reload")
@click.option("--dry-run", is_flag=True, help="Only say what would change (and the folder's problems).")
@json_option()
@pass_session
@fails_cleanly
def reload(session: Session, dry_run: bool, as_json: bool) -> None:
    """Make apsisd read its jobs folder again, as on SIGHUP; print the jobs added, changed and removed.

    A folder with problems is refused whole (the jobs loaded before stay):
    each problem is printed as FILE:LINE: field: message, and the exit status is 1.
    """
    reply = session.client.call("POST", "/api/v1/reload", [("dry_run", "1")] if dry_run else [],
                                accept=frozenset({422}))
    body, shown = reply.body, readable(reply.body)
    if as_json:
        print_json(body)
    elif body["errors"]:
        for problem in shown["errors"]:
            click.echo(problem)
        click.echo(f"reload refused: {plural(len(body['errors']), 'problem')}; the jobs loaded before stay",
                   err=True)
    else:
        would = "would be " if dry_run else ""
        changes = [f"{plural(len(shown[key]), 'job')} {would}{key}: {', '.join(shown[key])}"
                   for key in ("added", "changed", "removed") if body[key]]
        click.echo("\n".join(changes) if changes else "no changes")
    if body["errors"]:
        sys.exit(FOUND)


commands = (start, skip, stop, rerun, signal, mark, reload)
