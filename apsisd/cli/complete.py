"""Shell completion: job ids and run ids asked of apsisd as the shell completes, states and signals from lists.

A completion never prints an error: with apsisd unreachable (or slow, or
refusing) it offers nothing. `apsis completion bash|zsh` prints the script
to load, as click writes it for this program.
"""
from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from apsisd.cli.session import Session
from apsisd.errors import ApsisError
from apsisd.runs.state import State

TIMEOUT = 3.0  # seconds: a shell waiting longer for a completion feels broken
RECENT = 200  # the newest runs offered
SIGNALS = sorted(member.name.removeprefix("SIG") for member in signal.Signals)
Complete = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def job_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The loaded jobs' ids, with their descriptions (zsh shows them)."""
    body = _ask(ctx, "/api/v1/jobs", {})
    jobs = body.get("jobs", []) if isinstance(body, dict) else []
    return [CompletionItem(job["job_id"], help=(job.get("metadata") or {}).get("description") or None)
            for job in jobs if str(job.get("job_id", "")).startswith(incomplete)]


def run_ids(*states: State) -> Complete:
    """A completion of the newest runs' ids (in `states` only, if any), each with its job and state."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        body = _ask(ctx, "/api/v1/runs", [("limit", str(RECENT)), *(("state", str(state)) for state in states)])
        runs = body.get("runs", []) if isinstance(body, dict) else []
        return [CompletionItem(run["run_id"], help=f"{run.get('job_id')} {run.get('state')}")
                for run in runs if str(run.get("run_id", "")).startswith(incomplete)]

    return complete


def signal_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in SIGNALS if name.startswith(incomplete.upper().removeprefix("SIG"))]


def _ask(ctx: click.Context, path: str, query: Any) -> Any:
    """apsisd's answer, or None when it cannot give one (a completion stays quiet)."""
    options = ctx.find_root().params
    session = Session(url=options.get("url"), token_file=options.get("token_file"), ca=options.get("ca"),
                      timeout=TIMEOUT)
    try:
        return session.client.get(path, query)
    except (ApsisError, OSError, ValueError):
        return None


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh"]))
def completion(shell: str) -> None:
    """Print the script that completes apsis's commands in SHELL: job ids, run ids, states, signals.

    Load it in your shell's startup file:

    \b
      bash (~/.bashrc):  eval "$(apsis completion bash)"
      zsh (~/.zshrc):    eval "$(apsis completion zsh)"
    """
    root = click.get_current_context().find_root()
    script = get_completion_class(shell)
    assert script is not None  # click has both
    click.echo(script(root.command, {}, "apsis", "_APSIS_COMPLETE").source())


commands = (completion,)
