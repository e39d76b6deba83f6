"""Which arguments of a command a program runs as code: where a template would make an arg code.

A value is data only as far as the program that gets it treats it as data:
`sh -c "echo {{ a }}"` hands the value to a second shell as code, however
the first one quoted it. So for an argv (a job's `type: exec`) and for each
simple command of shell code, the arguments that known programs run as
code are found here: a shell's -c script, everything after `eval` or
`watch`, ssh's remote command, su/runuser/flock/script -c, and an
interpreter's code option (python -c, perl -e, node -e...), trap's action.
Also found here: the words that name the program to run (the command, and
the program after a wrapper such as env, exec, nohup, timeout, sudo), and
the operands bash reads as a variable's name (read, declare, unset, printf
-v, test -v...), whose subscript it runs as code. A table of known
programs, not a guess: docs/jobs.md says the rest is the job
author's care.
"""
from __future__ import annotations

import functools
import posixpath
import re

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
# As the command itself: every argument is code (let: arithmetic; trap: its first operand, run on a signal).
FIRST_WORD = frozenset({"eval", "watch", "let", "trap"})
# Programs and prefix words that run the program named by a later argument: name -> (short options that take a
# value, long options that take a value, operands before the program). `env -S` splits its value into a program.
WRAPPERS: dict[str, tuple[str, frozenset[str], int]] = {
    "env": ("uCS", frozenset({"--unset", "--chdir", "--split-string"}), 0),
    "exec": ("a", frozenset(), 0), "command": ("", frozenset(), 0), "builtin": ("", frozenset(), 0),
    "nohup": ("", frozenset(), 0), "time": ("fo", frozenset({"--format", "--output"}), 0),
    "nice": ("n", frozenset({"--adjustment"}), 0), "setsid": ("", frozenset(), 0),
    "timeout": ("ks", frozenset({"--kill-after", "--signal"}), 1),
    "stdbuf": ("ioe", frozenset({"--input", "--output", "--error"}), 0),
    "ionice": ("cnp", frozenset({"--class", "--classdata", "--pid"}), 0),
    "xargs": ("adEILnPs", frozenset({"--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars",
                                     "--process-slot-var"}), 0),
    "sudo": ("CDghpRrTtUu", frozenset({"--close-from", "--chdir", "--group", "--host", "--prompt", "--chroot",
                                       "--role", "--type", "--command-timeout", "--other-user", "--user"}), 0),
    "doas": ("uC", frozenset(), 0), "source": ("", frozenset(), 0), ".": ("", frozenset(), 0),
}
# The programs of CODE_OPTIONS that run a script named by their first operand.
INTERPRETERS = frozenset(CODE_OPTIONS) - {"su", "runuser", "flock", "script"}
# bash builtins that read an operand as a variable's name, whose subscript (a[$(cmd)]) bash runs as code.
NAME_BUILTINS = frozenset({"read", "getopts", "mapfile", "readarray", "unset"})  # every operand
DECLARE_BUILTINS = frozenset({"declare", "typeset", "local", "export", "readonly"})  # all but a NAME=value's value
_FIND_RUNS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_NAME_VALUE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
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
    commands = command_positions(argv)
    if commands and program_name(argv[commands[-1]]) in FIRST_WORD:
        found.update((index, argv[commands[-1]]) for index in range(commands[-1] + 1, len(argv)))
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
    if name in SHELLS or name in CODE_OPTIONS or name in FIRST_WORD or name in WRAPPERS:
        return name
    return name.rstrip("0123456789.")


@functools.lru_cache(maxsize=1024)
def command_positions(argv: tuple[str, ...]) -> list[int]:
    """The index of each word of `argv` that names a program: the first, the one after each wrapper's
    options (`env A=1 nice -n5 cmd`: 0, 3, 6), `env -S`'s value, and find's -exec programs.

    A template at the start of a word where a wrapper's option or operand stands counts as one, and ends the
    list: its value could be an option that moves the program to a later word, or the program itself.
    """
    found: list[int] = []
    index = 0
    while index < len(argv):
        found.append(index)
        name = program_name(argv[index])
        if name == "find":  # find -exec PROGRAM ... ;
            return [*found, *(item + 1 for item in range(index + 1, len(argv) - 1) if argv[item] in _FIND_RUNS)]
        if name not in WRAPPERS or argv[index].startswith(TEMPLATE_STARTS):
            return found
        shorts, longs, operands = WRAPPERS[name]
        index += 1
        while index < len(argv):
            word = argv[index]
            if word.startswith(TEMPLATE_STARTS) or word == "--":
                break
            if name == "env" and (_NAME_VALUE.match(word) or word == "-"):
                index += 1
                continue
            if len(word) < 2 or word[0] != "-":
                break
            key, equals, _ = word.partition("=")
            if word.startswith("--"):
                split = (index if equals else index + 1) if key == "--split-string" else None
                index += 2 if key in longs and not equals else 1
            else:
                letter = next((position for position, letter in enumerate(word[1:], 1) if letter in shorts), None)
                split = None
                if letter is not None and name == "env" and word[letter] == "S":
                    split = index if letter < len(word) - 1 else index + 1
                index += 2 if letter == len(word) - 1 else 1
            if split is not None and split < len(argv) and "{{" in argv[split]:
                return [*found, split]
        if index < len(argv) and argv[index] == "--" and not argv[index].startswith(TEMPLATE_STARTS):
            index += 1
        for _ in range(operands):
            if index < len(argv) and argv[index].startswith(TEMPLATE_STARTS):
                return [*found, index]
            index += 1
    return found


def interpreter_arguments(argv: tuple[str, ...]) -> dict[int, str]:
    """The index of each argument of `argv` that an interpreter run as a program (not `grep python ...`) may read
    as an option (a value -c or -e would make the next argument code) or as the script to run, up to its script;
    and the interpreter's name."""
    found: dict[int, str] = {}
    for start in command_positions(argv):
        name = program_name(argv[start]) if start < len(argv) else ""
        if name not in INTERPRETERS:
            continue
        for index in range(start + 1, len(argv)):
            word = argv[index]
            found[index] = name
            if word == "--":
                if index + 1 < len(argv):
                    found[index + 1] = name
                break
            if not word.startswith("-") or word == "-":
                break  # the script, or the code option's value (-c code): what follows is data
    return found


def name_arguments(argv: tuple[str, ...]) -> dict[int, str]:
    """The index of each argument of `argv` that bash may read as a variable's name, and the builtin's name."""
    commands = command_positions(argv)
    if not commands or commands[-1] >= len(argv):
        return {}
    start = commands[-1]
    name, args = argv[start], range(start + 1, len(argv))
    if name in NAME_BUILTINS:
        return dict.fromkeys(args, name)
    if name in DECLARE_BUILTINS:
        options = any(argv[index][:1] in ("-", "+") or argv[index].startswith(TEMPLATE_STARTS) for index in args)
        return {index: name for index in args if options or not _NAME_VALUE.match(argv[index])}
    found: dict[int, str] = {}
    first = argv[start + 1] if start + 1 < len(argv) else ""
    if name == "printf" and (first.startswith(("-v", *TEMPLATE_STARTS))):
        found[start + 1] = name  # printf -vNAME; a value -v would make the next argument a name
    if name == "printf" and first == "-v" and start + 2 < len(argv):
        found[start + 2] = name  # printf -v NAME
    if name in ("test", "["):
        found.update((index, name) for index in args
                     if argv[index - 1] in ("-v", "-R") or argv[index - 1].startswith(TEMPLATE_STARTS))
    return found


def _code_option_values(argv: tuple[str, ...], start: int, options: tuple[str, ...]) -> list[int]:
    """The index of the code among the arguments after argv[start]: the value of one of `options`, given as the
    next argument (-c code), as the rest of a short option (-ccode) or at the end of a cluster (-Ic code, -lne
    code: a short option that takes a value takes the rest of its cluster, so one at the end takes the next
    argument)."""
    shorts = {option[1] for option in options if len(option) == 2 and option[0] == "-"}
    found: list[int] = []
    for index in range(start + 1, len(argv)):
        word = argv[index]
        if word in options:
            return [*found, index + 1] if index + 1 < len(argv) else found
        if word == "--":
            return found
        if word.startswith("--") and word.partition("=")[0] in options:
            return [*found, index]  # --eval=code
        if len(word) > 1 and word[0] == "-" and word[1] != "-":
            # An earlier letter may be an option that takes the rest as its value (-I/usr/lib): keep looking.
            letter = next((position for position, letter in enumerate(word[1:], 1) if letter in shorts), None)
            if letter == len(word) - 1 and index + 1 < len(argv):
                found.append(index + 1)
            elif letter is not None and letter < len(word) - 1:
                found.append(index)
    return found


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
