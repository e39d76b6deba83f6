"""Which arguments of a command a program runs as code: where a template would make an arg code.

A value is data only as far as the program that gets it treats it as data:
`sh -c "echo {{ a }}"` hands the value to a second shell as code, however
the first one quoted it. So for an argv (a job's `type: exec`) and for each
simple command of shell code, the arguments that known programs run as
code are found here: a shell's -c script, everything after `eval` or
`watch`, ssh's remote command, su/runuser/flock/script -c, and an
interpreter's code option (python -c, perl -e, node -e...). A table of
known programs, not a guess: docs/jobs.md says the rest is the job
author's care.
"""
from __future__ import annotations

import functools
import posixpath

# The programs that read an argument as shell code after -c (compared by their last path part).
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "ash", "yash", "posh"})
# Long options of bash that take the next argument as their value.
_SHELL_LONG_WITH_VALUE = frozenset({"--rcfile", "--init-file"})
# Program -> the options whose value is code (the next argument, or the rest of a short one: -c'code').
CODE_OPTIONS = {
    "python": ("-c",), "perl": ("-e", "-E"), "ruby": ("-e",), "node": ("-e", "--eval", "-p", "--print"),
    "nodejs": ("-e", "--eval", "-p", "--print"), "php": ("-r",), "lua": ("-e",), "Rscript": ("-e",),
    "osascript": ("-e",), "fish": ("-c", "--command"), "csh": ("-c",), "tcsh": ("-c",),
    "pwsh": ("-c", "-Command", "-command"), "su": ("-c", "--command", "--session-command"),
    "runuser": ("-c", "--command", "--session-command"), "flock": ("-c", "--command"), "script": ("-c", "--command"),
}
FIRST_WORD = frozenset({"eval", "watch", "let"})  # as the command itself: every argument is code (let: arithmetic)
_SSH_OPTIONS_WITH_VALUE = frozenset("BbcDEeFIiJLlmOoPpQRSWw")
TEMPLATE_STARTS = ("{{", "{%", "{#")


@functools.lru_cache(maxsize=1024)
def shell_script(argv: tuple[str, ...]) -> tuple[int | None, list[tuple[int, str]]]:
    """The index of the shell code in an argv that runs a shell with -c (None if it runs none), and problems.

    The shell is the first item named like one (so `env sh -c`, `nice bash
    -c`, `/bin/dash -ec` count); its options are read as sh reads them. A
    template at the start of an option or of the shell's first operand is
    refused: a value such as `-c` would make the next argument code.
    """
    start = next((index for index, word in enumerate(argv) if posixpath.basename(word) in SHELLS), None)
    if start is None:
        return None, []
    index, dash_c = start + 1, False
    while index < len(argv):
        word = argv[index]
        if word.startswith(TEMPLATE_STARTS) and dash_c:
            break  # the script: code_arguments() knows it is code; rewritten, it starts with a quote
        if word.startswith(TEMPLATE_STARTS):
            return None, [(index, f"a template at the start of an argument of the shell {argv[start]} before its "
                                  "code could be read as an option (a value -c would make the next argument "
                                  "code); put '--' before it, or text before the template")]
        if word == "--":
            index += 1
            break
        if len(word) < 2 or word[0] not in "-+":
            break
        if word.startswith("--"):
            index += 2 if word in _SHELL_LONG_WITH_VALUE else 1
            continue
        dash_c = dash_c or (word[0] == "-" and "c" in word)
        index += 2 if word[-1] in "oO" else 1  # -o pipefail, -euo pipefail, -O extglob
    return (index if dash_c and index < len(argv) else None), []


@functools.lru_cache(maxsize=1024)
def code_arguments(argv: tuple[str, ...]) -> dict[int, str]:
    """The index of each argument of `argv` that a program of it runs as code, and that program's name."""
    found: dict[int, str] = {}
    script = shell_script(argv)[0]
    if script is not None:
        found[script] = posixpath.basename(next(word for word in argv if posixpath.basename(word) in SHELLS))
    if argv and program_name(argv[0]) in FIRST_WORD:
        found.update((index, argv[0]) for index in range(1, len(argv)))
    for start, word in enumerate(argv):
        name = program_name(word)
        if name == "ssh":
            found.update((index, name) for index in range(_ssh_destination(argv, start) + 1, len(argv)))
        elif name in CODE_OPTIONS:
            found.update((index, name) for index in _code_option_values(argv, start, CODE_OPTIONS[name]))
    return found


def program_name(word: str) -> str:
    """A program's name as the tables have it: its last path part, without a version (python3.11 -> python)."""
    name = posixpath.basename(word)
    if name in SHELLS or name in CODE_OPTIONS or name in FIRST_WORD:
        return name
    return name.rstrip("0123456789.")


def _code_option_values(argv: tuple[str, ...], start: int, options: tuple[str, ...]) -> list[int]:
    for index in range(start + 1, len(argv)):
        word = argv[index]
        if word in options:
            return [index + 1] if index + 1 < len(argv) else []
        if any(len(option) == 2 and word.startswith(option) and len(word) > 2 for option in options):
            return [index]
        if word == "--":
            return []
    return []


def _ssh_destination(argv: tuple[str, ...], start: int) -> int:
    """The index of ssh's destination (its first operand); what follows it is the remote command."""
    index = start + 1
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "--":
        letters = argv[index][1:]
        index += 1
        for position, letter in enumerate(letters):
            if letter in _SSH_OPTIONS_WITH_VALUE:
                index += position == len(letters) - 1  # -p 22 (the next argument), not -p22
                break
    return index + (index < len(argv) and argv[index] == "--")
