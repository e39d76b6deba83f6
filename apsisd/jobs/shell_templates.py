"""Templates in code a shell reads: the values go in the environment, the code only refers to them.

A value pasted into shell code is code, however it is quoted: `shlex.quote`
is right outside quotes and wrong inside them (`echo "got {{ a }}"` with
`$(id)` ran id). So a shell never sees a value in its code. Each
`{{ expression }}` of a shell command (`program: "..."`, `type: shell`) or
of the script of an argv that runs a shell with `-c` becomes a reference
to a variable of the run's environment: `"${APSIS_ARG_name}"` outside
quotes, `${APSIS_ARG_name}` inside double quotes, both of which the shell
expands to exactly the value, as one word, running nothing. An expression
other than a plain name gets a variable of its own, APSIS_TEMPLATE_<n> (the
n-th template of the text). Where a reference would not mean exactly the
value (inside single quotes, a comment, a here-document, `$(( ))`...), in
an argument that a program the shell starts runs as code (`sh -c "..."`,
`eval`, `ssh host "..."`: see code_arguments), and for `{% %}` statements
(which would choose code by an arg), the job is refused when it is loaded,
with what to write instead.
"""
from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

import jinja2

from apsisd.calendars.calendar import Calendar
from apsisd.errors import InvalidFields
from apsisd.jobs.code_arguments import (
    CODE_OPTIONS,
    code_arguments,
    command_positions,
    interpreter_arguments,
    name_arguments,
    program_name,
    shell_script,
)
from apsisd.jobs.shell_contexts import SLOT, Context, scan
from apsisd.jobs.templates import CONSTANTS, ENV, HELPERS, SIMPLE, has_template, render, simple_names

ARG_PREFIX = "APSIS_ARG_"
EXPRESSION_PREFIX = "APSIS_TEMPLATE_"
# Variables apsisd sets for every run (apsisd.jobs.spec): `{{ run_id }}` and `{{ job_id }}` refer to them.
RESERVED_VARIABLES = {"run_id": "APSIS_RUN_ID", "job_id": "APSIS_JOB_ID"}
# Words before a command that are not its program (prefix words such as exec, command and time are
# code_arguments.WRAPPERS: the program is the word after them).
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^]]*\])?\+?=")
# The start of an assignment to an array item, up to a slot in its subscript: a[{{ i }}]=v.
_SUBSCRIPT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\[[^]]*\0")
# A redirection: the operator alone (its target is the next word) or with its target (2>/dev/null, <<<word).
_REDIRECTION = re.compile(r"[0-9]*(?:&>|[<>])[<>&|]*")
_CHOOSES_PROGRAM = ("a template where the program to run is named (the command, the program a wrapper such as "
                    "env, exec, command, nohup, timeout, xargs or sudo runs, env -S's text, or the start of such "
                    "a wrapper's option or operand, whose value could move the program) would let an arg choose the "
                    "program; a job's program is its author's choice: pick among fixed programs with a "
                    "case statement on the arg (case {{ a }} in start) prog-start;; stop) prog-stop;; *) exit 2;; "
                    "esac)")
_INTERPRETER_OPTION = ("a template at the start of an option of {program} or in the script it runs could make an "
                       "arg code (a value -c or -e makes the next argument code) or choose the script; the script is "
                       "its author's choice: give the value after it (python3 /srv/job.py {{ a }}, python3 -c "
                       "'...' {{ a }})")
_NAMES_FIX = ("write the names and options yourself and give the value as data: read -r v <<< {{ a }}, declare "
              "v={{ a }} (with no options), printf -v v '%s' {{ a }}, [ -n \"${v+set}\" ] for test -v")
_INTERPRETER_FIX = ("pass the value as an argument after the code and read it there (python3 -c '... sys.argv[1]' "
                    "{{ a }}; perl -e '... $ARGV[0]' {{ a }}; node -e '... process.argv[1]' {{ a }})")
_CODE_FIXES = {
    **{name: _INTERPRETER_FIX for name in CODE_OPTIONS},
    "sh": "give the shell the value as an argument after its code: sh -c '... \"$1\"' sh {{ a }}",
    "eval": "eval only fixed text, and let it refer to a variable: v={{ a }}; eval 'cmd \"$v\"'",
    "ssh": "ssh runs it with the remote shell; send the value on ssh's input instead: "
           "printf '%s\\n' {{ a }} | ssh host 'read -r v; cmd \"$v\"'",
    "let": "bash evaluates let's arithmetic as code; assign it to a variable first (v={{ a }}), check it is a "
           "number (case $v in ''|*[!0-9]*) exit 2;; esac), then let n=v+1",
    "trap": "trap runs it when the signal comes; assign it to a variable first (v={{ a }}) and let fixed code "
            "refer to it: trap 'cleanup \"$v\"' EXIT",
    "watch": "watch runs it with sh -c; give the value as an argument: watch -x sh -c '... \"$1\"' sh {{ a }}",
    **{name: "hand it the value as data (an argument, or an environment variable its code reads), not inside "
             "its code" for name in ("su", "runuser", "flock", "script", "fish", "csh", "tcsh", "pwsh")},
}
_FIXES = {
    Context.SINGLE: "end the quotes before it and start them again after it ('text '{t}' more'); if the quoted "
                    "text is code for another program (awk, sed, sh -c, ssh), hand the value to that program as data "
                    "instead: awk -v v={t} '... v ...', sh -c '... \"$1\"' sh {t}",
    Context.ANSI: "end the $'...' quotes before it and start them again after it",
    Context.BACKTICK: "write $( ... ) instead of backticks",
    Context.PARAMETER: "assign it to a variable first (v={t}) and write $v inside the ${...}",
    Context.ARITHMETIC: "bash evaluates what arithmetic expands as code; assign it to a variable first "
                        "(v={t}), check it is a number (case $v in ''|*[!0-9]*) exit 2;; esac), then use $v",
    Context.SUBSCRIPT: "bash evaluates an indexed array's subscript as arithmetic code; assign it to a variable "
                       "first (v={t}), check it is a number (case $v in ''|*[!0-9]*) exit 2;; esac), then use "
                       "a[v]",
    Context.TEST: "bash may evaluate the operands of [[ ]] as arithmetic code; use [ ... ] (test) instead",
    Context.COMMENT: "a template in a comment does nothing; take it out of the comment",
    Context.HEREDOC: "assign it to a variable before the here-document (v={t}) and write $v in it",
    Context.BACKSLASH: "take out the backslash: the template already gives the value as it is",
    Context.DOLLAR: "take out the $: the template already gives the value, not a variable's name",
}


@dataclass(frozen=True, slots=True)
class ShellCode:
    """Shell code whose templates are references: `code`, and each variable's name and template."""

    code: str
    variables: tuple[tuple[str, str], ...]  # (variable name, template text rendering its value)


@functools.lru_cache(maxsize=4096)
def shell_code(text: str) -> ShellCode | list[str]:
    """The code of `text` with references in place of its templates, or what is wrong with it.

    Cached: the load check and every run of the job read the same text.
    A template syntax error is reported by templates.check, and here only
    as "cannot read"; bind() renders nothing of such a text.
    """
    split = _split(text)
    if isinstance(split, str):
        return [split]
    code_parts, expressions, lines = split
    if any(SLOT in part for part in code_parts):
        return ["shell code must not hold NUL characters"]
    slots = scan(SLOT.join(code_parts))
    out, variables, problems = [code_parts[0]], [], []
    for index, (source, slot, line) in enumerate(zip(expressions, slots, lines, strict=True)):
        name = _variable(source, index + 1)
        template = "{{ " + source + " }}"
        context = slot.context
        code_problem = _command_problem(slot.command) if context in (Context.WORD, Context.QUOTED) else None
        if code_problem is not None:
            problems.append(f"{_where(text, line)}template {template}: {code_problem.replace('{t}', template)}")
        elif context is Context.WORD:
            out.append(f'"${{{name}}}"')
        elif context is Context.QUOTED:
            out.append(f"${{{name}}}")
        else:
            where = context.value if context in (Context.BACKSLASH, Context.DOLLAR) else f"inside {context.value}"
            problems.append(f"{_where(text, line)}template {template} is {where}, where the shell cannot take it "
                            f"as data; {_FIXES[context].replace('{t}', template)}")
        out.append(code_parts[index + 1])
        variables.append((name, template))  # a plain name's too: rendering it says if the run lacks that arg
    if problems:
        return problems
    return ShellCode(code="".join(out), variables=tuple(variables))


def _split(text: str) -> tuple[list[str], list[str], list[int]] | str:
    """The code around the templates of `text`, each template's expression and line; or why it cannot be.

    A text of only `{{ name }}` templates (most) is split by a regular
    expression; any other by Jinja's own lexer, which knows where its
    expressions end (`{{ f("}}") }}`) and strips whitespace as `{{-` asks.
    """
    if simple_names(text) is not None:
        matches = list(SIMPLE.finditer(text))
        ends = [0, *(match.end() for match in matches)]
        starts = [*(match.start() for match in matches), len(text)]
        return ([text[end:start] for end, start in zip(ends, starts, strict=True)],
                [match.group(1) for match in matches], [text.count("\n", 0, match.start()) + 1 for match in matches])
    try:
        tokens = list(ENV.lex(text))
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (template line {exc.lineno})"
    code_parts, expressions, lines = [""], [], []
    expression: list[str] | None = None
    for line, kind, value in tokens:
        if kind == "data":
            code_parts[-1] += value
        elif kind == "variable_begin":
            expression = []
        elif kind == "variable_end" and expression is not None:
            expressions.append("".join(expression).strip())
            lines.append(line)
            code_parts.append("")
            expression = None
        elif expression is not None:
            expression.append(value)
        elif kind in ("block_begin", "comment_begin", "raw_begin"):
            return (_where(text, line) + "{% ... %} statements and {# #} comments cannot be used in shell code, "
                    "where they would choose the code by an arg; write the choice in the shell "
                    "(if [ {{ region }} = UK ]; then ...; fi)")
    return code_parts, expressions, lines


def check_shell(text: str) -> None:
    """InvalidFields (at this field) with every template of `text` that shell code cannot take as data."""
    if not has_template(text):
        return
    parsed = shell_code(text)
    if isinstance(parsed, list) and not parsed[0].startswith("template syntax error"):  # that is check()'s to say
        raise InvalidFields([((), message) for message in parsed])


def bind_shell(text: str, args: Mapping[str, str], calendars: Mapping[str, Calendar]) -> tuple[str, dict[str, str]]:
    """The code of `text` for a run with `args`, and the variables it refers to; InvalidFields if it cannot be."""
    if not has_template(text):
        return text, {}
    parsed = shell_code(text)
    if isinstance(parsed, list):
        raise InvalidFields([((), message) for message in parsed])
    return parsed.code, {name: render(template, args, calendars) for name, template in parsed.variables}


def code_argument_problems(argv: tuple[str, ...]) -> list[tuple[int, str]]:
    """Each item of an argv that holds a template and that a program of it runs as code (a shell's -c script
    aside, which shell_code rewrites), names the program, or is a variable's name, with what to write instead."""
    if not any(map(has_template, argv)):  # most argvs: nothing to place (and the scan is the costly part)
        return []
    script, problems = shell_script(argv)
    return problems or [(index, message) for index, message in sorted(_argument_problems(argv).items())
                        if index != script and has_template(argv[index])]


def _argument_problems(argv: tuple[str, ...]) -> dict[int, str]:
    """Why each argument of `argv` may not hold a template, by index (whether or not it holds one)."""
    problems = {index: _names_a_variable(name) for index, name in name_arguments(argv).items()}
    problems.update((index, _INTERPRETER_OPTION.replace("{program}", name))
                    for index, name in interpreter_arguments(argv).items())
    problems.update((index, _runs_as_code(name)) for index, name in code_arguments(argv).items())
    problems.update((index, _CHOOSES_PROGRAM) for index in command_positions(argv))
    return problems


def _runs_as_code(program: str) -> str:
    fix = _CODE_FIXES.get(program_name(program), _CODE_FIXES["sh"])
    return f"{program} runs this argument as code, so a template in it would make an arg code; {fix}"


def _names_a_variable(builtin: str) -> str:
    return (f"bash may read this argument of {builtin} as a variable's name and run the code in its subscript "
            f"(a[$(cmd)]), so a template in it would make an arg code; {_NAMES_FIX}")


def _command_problem(command: str) -> str | None:
    """Why the slot at the end of `command` (a simple command's text up to it) may not stand there, if so."""
    words = _words(command + SLOT)
    if not words:
        return None
    if len(words) == 1 and _SUBSCRIPT.match(words[0]):
        return f"it is in an array subscript: {_FIXES[Context.SUBSCRIPT]}"
    argv = tuple(word.replace(SLOT, "{{}}") for word in words)
    problem = _argument_problems(argv).get(len(argv) - 1)
    if problem is not None:
        return problem
    problems = shell_script(argv)[1]
    return problems[0][1] if problems and problems[0][0] == len(argv) - 1 else None


def _words(command: str) -> list[str]:
    """The words of a simple command's text as sh splits them (redirections, leading assignments and keywords
    dropped); none if it cannot tell, or if the last word is a redirection's target."""
    lexer = shlex.shlex(command + ('"' if command.count('"') % 2 else ""), posix=True)
    lexer.whitespace_split, lexer.commenters = True, ""
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    words: list[str] = []
    target = False
    for position, token in enumerate(tokens):
        redirection = _REDIRECTION.match(token)
        if target or redirection is not None:  # a file, not an argument
            target = redirection is not None and redirection.end() == len(token)
            if SLOT in token and position == len(tokens) - 1:
                return []
            continue
        words.append(token)
    while words:
        if words[0] == "function" or words[1:2] == ["()"]:  # function f {, f () {
            del words[:2]
        elif words[0] in _KEYWORDS or _ASSIGNMENT.match(words[0]) or words[0].endswith("()"):  # f() {
            del words[0]
        else:
            break
    return words


def _variable(source: str, number: int) -> str:
    """The variable a template refers to: APSIS_ARG_<name> for a plain name, else one of its own."""
    if source in RESERVED_VARIABLES:
        return RESERVED_VARIABLES[source]
    if source.isidentifier() and source.isascii() and source not in CONSTANTS and source not in HELPERS:
        return ARG_PREFIX + source
    return f"{EXPRESSION_PREFIX}{number}"


def _where(text: str, line: int) -> str:
    """`(line N of the code) ` for a text of several lines; nothing for one line."""
    return f"(line {line} of the code) " if "\n" in text.strip("\n") else ""

