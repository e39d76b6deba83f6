"""Templates in shell code: references to the env, whatever the args; refused where a reference cannot be exact.

The property tests run the real shells (dash as /bin/sh, and bash) on the
bound code with the bound env, in a temporary folder: no systemd, nothing
outside the folder (tests/integration/test_shell_args.py does the same
through real units).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apsisd.errors import InvalidFields, InvalidFiles
from apsisd.jobs.code_arguments import shell_script
from apsisd.jobs.load import load_jobs
from apsisd.jobs.program import Kind, bind, parse_program
from apsisd.jobs.shell_contexts import SLOT, Context, scan
from apsisd.jobs.shell_templates import shell_code

ROOT = Path(__file__).resolve().parents[3]
SHELLS = [shell for shell in ("/bin/sh", "bash", "zsh", "ksh", "mksh") if shutil.which(shell)]
MARK = "PWNED"
# Each payload would create MARK in the current folder if any shell ran it as code.
PAYLOADS = [f"$(touch {MARK})", f"`touch {MARK}`", f"'; touch {MARK}; '", f'"; touch {MARK}; "', f"; touch {MARK}",
            f"\n touch {MARK}\n", f"| touch {MARK}", f"& touch {MARK} &", f"${{x:-$(touch {MARK})}}",
            f"$((1))$(touch {MARK})", f"\\'$(touch {MARK})\\'", f'\\"`touch {MARK}`\\"', f"a[$(touch {MARK})]"]
METACHARACTERS = " \t\n'\"`$\\;|&<>(){}[]*?~!#%=^,-+.:/@0aZ"
ARGS = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(alphabet=METACHARACTERS, max_size=30),
    st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(alphabet=METACHARACTERS, max_size=8)),
             max_size=4).map("".join),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=20),
)
# A shell command (with `{{ a }}`, `{{ b }}` in every position it may take), and what it prints, given a and b:
# each printf '%s\0' item is one value received.
POSITIONS = [
    ("printf '%s\\0' {{ a }}", lambda a, b: [a]),
    ("printf '%s\\0' \"{{ a }}\"", lambda a, b: [a]),
    ("printf '%s\\0' x{{ a }}y", lambda a, b: [f"x{a}y"]),
    ("printf '%s\\0' \"got {{ a }}!\"", lambda a, b: [f"got {a}!"]),
    ("printf '%s\\0' {{ a }} \"{{ b }}\" {{ a }}{{ b }} \"{{ b }}{{ a }}\"", lambda a, b: [a, b, a + b, b + a]),
    ("printf '%s\\0' {{ a | upper }} \"{{ a ~ '-' ~ b }}\"", lambda a, b: [a.upper(), f"{a}-{b}"]),
    ("v={{ a }}; printf '%s\\0' \"$v\"", lambda a, b: [a]),
    ("printf '%s\\0' \"$(printf '%s.' {{ a }})\"", lambda a, b: [a + "."]),
    ("printf '%s\\0' $(printf '%s' x{{ b }}x | wc -c)", lambda a, b: [str(len(("x" + b + "x").encode()))]),
    ("case {{ a }} in *) printf '%s\\0' \"{{ a }}\";; esac", lambda a, b: [a]),
    ("printf '%s\\0' \"$(case 1 in 1) printf '%s.' {{ a }};; esac)\"", lambda a, b: [a + "."]),
    ("for x in {{ a }} {{ b }}; do printf '%s\\0' \"$x\"; done", lambda a, b: [a, b]),
    ("if [ {{ a }} = {{ b }} ]; then :; fi 2>/dev/null\nprintf '%s\\0' \\\n  {{ b }} # the end", lambda a, b: [b]),
    # The value of an assignment given to export or local (no options), a wrapper's assignment, a program's
    # arguments after a wrapper, a redirection's target: data.
    ("export X={{ a }}; f() { local y=\"{{ b }}\"; printf '%s\\0' \"$X\" \"$y\"; }; f", lambda a, b: [a, b]),
    ("env X={{ a }} sh -c 'printf \"%s\\0\" \"$X\"'", lambda a, b: [a]),
    ("command printf '%s\\0' {{ a }} && env -u X nice -n 1 printf '%s\\0' {{ b }}", lambda a, b: [a, b]),
    ("printf '%s\\0' {{ a }} 2>/dev/null {{ b }} >&1 && : > /dev/null 2>/dev/null", lambda a, b: [a, b]),
]


def received(argv: list[str], env: dict[str, str], folder: str) -> list[str]:
    done = subprocess.run(argv, env={"PATH": os.environ["PATH"], **env}, cwd=folder, capture_output=True,
                          timeout=10, check=False)
    assert not Path(folder, MARK).exists(), f"{argv!r} ran an arg as code"
    return done.stdout.decode(errors="surrogateescape").split("\0")[:-1]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("command", "expected"), POSITIONS, ids=[command for command, _ in POSITIONS])
@settings(max_examples=40, deadline=None)
@given(a=ARGS, b=ARGS)
def test_a_shell_command_receives_each_arg_as_one_value_and_runs_nothing_else(
        shell: str, command: str, expected: object, a: str, b: str) -> None:
    program = bind(parse_program(command), {"a": a, "b": b}, {})
    assert program.command is not None
    assert program.command == bind(parse_program(command), {"a": "x", "b": "y"}, {}).command  # holds no value
    with tempfile.TemporaryDirectory() as folder:
        assert received([shell, "-c", program.command], dict(program.env), folder) == expected(a, b)  # type: ignore[operator]


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash")
@settings(max_examples=60, deadline=None)
@given(a=ARGS, b=ARGS)
def test_the_values_of_a_bash_array_are_data(a: str, b: str) -> None:
    code = "x=({{ a }} \"{{ b }}\" [5]={{ a }}); printf '%s\\0' \"${x[@]}\""
    program = bind(parse_program(code), {"a": a, "b": b}, {})
    assert program.command is not None
    with tempfile.TemporaryDirectory() as folder:
        assert received(["bash", "-c", program.command], dict(program.env), folder) == [a, b, a]


SH_C = [
    ["/bin/sh", "-c", "printf '%s\\0' {{ a }} \"[{{ b }}]\" \"$0\" \"$1\"", "{{ a }}", "{{ b }}"],
    ["/usr/bin/env", "bash", "-e", "-o", "pipefail", "-c", "printf '%s\\0' {{ a }} \"[{{ b }}]\" \"$0\" \"$1\"",
     "{{ a }}", "{{ b }}"],
    ["dash", "-ec", "--", "printf '%s\\0' {{ a }} \"[{{ b }}]\" \"$0\" \"$1\"", "{{ a }}", "{{ b }}"],
]


@pytest.mark.parametrize("argv", SH_C, ids=[" ".join(argv[:2]) for argv in SH_C])
@settings(max_examples=60, deadline=None)
@given(a=ARGS, b=ARGS)
def test_an_sh_c_argv_receives_each_arg_as_one_value_and_runs_nothing_else(argv: list[str], a: str, b: str) -> None:
    program = bind(parse_program(argv), {"a": a, "b": b}, {})
    assert program.kind is Kind.EXEC and program.argv is not None
    with tempfile.TemporaryDirectory() as folder:
        assert received(list(program.argv), dict(program.env), folder) == [a, f"[{b}]", a, b]


CONTEXTS = [
    ("x \0 y", [Context.WORD]),
    ('x "a\0b" \0', [Context.QUOTED, Context.WORD]),
    ("x '\0' \"'\0'\"", [Context.SINGLE, Context.QUOTED]),
    ("echo $'\\'\0'", [Context.ANSI]),
    ('echo "$\'\0\'"', [Context.QUOTED]),  # $' is not a quote inside double quotes
    ("echo `\0` \"`\0`\"", [Context.BACKTICK, Context.BACKTICK]),
    ('echo $(a \0 "\0" `b`) "$(c \0)" "${x:-\0}" ${#y} \0', [Context.WORD, Context.QUOTED, Context.WORD,
                                                           Context.PARAMETER, Context.WORD]),
    ("echo $((1 + (\0))) \"$((\0))\" && ((\0)) && (echo \0)", [Context.ARITHMETIC] * 3 + [Context.WORD]),
    ("[[ \0 == \"\0\" ]] && [ \0 ] && echo a[[b \0", [Context.TEST, Context.TEST, Context.WORD, Context.WORD]),
    ("# \0 don't\necho a#\0 \0 # \0", [Context.COMMENT, Context.WORD, Context.WORD, Context.COMMENT]),
    ("cat <<EOF; echo \0\n$x \0 '\nEOF\necho \0", [Context.WORD, Context.HEREDOC, Context.WORD]),
    ("cat <<-'E O' <<X\n\t\0\n\tE O\n\0\nX\necho \0 <<<\0", [Context.HEREDOC, Context.HEREDOC, Context.WORD,
                                                             Context.WORD]),
    ("cat <<\0\n", [Context.HEREDOC]),
    ("echo \\\0 \"\\\0\" \\\\\0 $\0 \"$\0\" '$\0'", [Context.BACKSLASH, Context.BACKSLASH, Context.WORD,
                                                     Context.DOLLAR, Context.DOLLAR, Context.SINGLE]),
    ("case a in a) echo \0;; esac; echo \"\0\"", [Context.WORD, Context.QUOTED]),
    ('echo "$(case a in a|(b)) echo \0;; esac) \0" "$(x=esac; (echo) \0)"', [Context.WORD, Context.QUOTED,
                                                                               Context.WORD]),
    ('a=(\0 "\0" [1]=\0 [\0]=x) \0', [Context.WORD, Context.QUOTED, Context.WORD, Context.SUBSCRIPT, Context.WORD]),
]


@pytest.mark.parametrize(("code", "expected"), CONTEXTS, ids=[code for code, _ in CONTEXTS])
def test_each_slot_gets_its_context(code: str, expected: list[Context]) -> None:
    assert [slot.context for slot in scan(code.replace("\0", SLOT))] == expected


REFUSED = [
    ("echo '{{ a }}'", "template {{ a }} is inside single quotes, where the shell cannot take it as data; end the "
                       "quotes before it and start them again after it ('text '{{ a }}' more'); if the quoted text "
                       "is code for another program (awk, sed, sh -c, ssh), hand the value to that program as data "
                       "instead: awk -v v={{ a }} '... v ...', sh -c '... \"$1\"' sh {{ a }}"),
    ("echo $(( {{ a }} + 1 ))", "template {{ a }} is inside an arithmetic expression, where the shell cannot take "
                                "it as data; bash evaluates what arithmetic expands as code; assign it to a variable "
                                "first (v={{ a }}), check it is a number (case $v in ''|*[!0-9]*) exit 2;; esac), "
                                "then use $v"),
    ("[[ {{ a }} -eq 1 ]]", "template {{ a }} is inside [[ ... ]], where the shell cannot take it as data; bash may "
                            "evaluate the operands of [[ ]] as arithmetic code; use [ ... ] (test) instead"),
    ("echo `cat {{ a }}`", "template {{ a }} is inside backticks, where the shell cannot take it as data; write "
                           "$( ... ) instead of backticks"),
    ("echo ${x:-{{ a }}}", "template {{ a }} is inside a ${...} expansion, where the shell cannot take it as data; "
                           "assign it to a variable first (v={{ a }}) and write $v inside the ${...}"),
    ("set -e\n# {{ a }}\ntrue", "(line 2 of the code) template {{ a }} is inside a comment, where the shell cannot "
                                "take it as data; a template in a comment does nothing; take it out of the comment"),
    ("cat <<EOF\n{{ a }}\nEOF", "(line 2 of the code) template {{ a }} is inside a here-document, where the shell "
                                "cannot take it as data; assign it to a variable before the here-document "
                                "(v={{ a }}) and write $v in it"),
    ("echo \\{{ a }}", "template {{ a }} is right after a backslash, where the shell cannot take it as data; take "
                       "out the backslash: the template already gives the value as it is"),
    ("echo ${{ a }}", "template {{ a }} is right after a $, where the shell cannot take it as data; take out the $: "
                      "the template already gives the value, not a variable's name"),
    ("a=([{{ a }}]=1)", "template {{ a }} is inside an array subscript, where the shell cannot take it as data; bash "
                        "evaluates an indexed array's subscript as arithmetic code; assign it to a variable first "
                        "(v={{ a }}), check it is a number (case $v in ''|*[!0-9]*) exit 2;; esac), then use a[v]"),
    ("x {% if a %}-v{% endif %}", "{% ... %} statements and {# #} comments cannot be used in shell code, where they "
                                  "would choose the code by an arg; write the choice in the shell "
                                  "(if [ {{ region }} = UK ]; then ...; fi)"),
]


SH = "give the shell the value as an argument after its code: sh -c '... \"$1\"' sh {{ a }}"
INTERPRETER = ("pass the value as an argument after the code and read it there (python3 -c '... sys.argv[1]' "
               "{{ a }}; perl -e '... $ARGV[0]' {{ a }}; node -e '... process.argv[1]' {{ a }})")
CODE = "runs this argument as code, so a template in it would make an arg code"
NESTED = [
    ('sh -c "echo {{ a }}"', f"template {{{{ a }}}}: sh {CODE}; {SH}"),
    ('cd /srv && sudo -u batch /bin/bash -ec "make {{ a }}"', f"template {{{{ a }}}}: bash {CODE}; {SH}"),
    ("find /srv -exec sh -c {{ a }} \\;", f"template {{{{ a }}}}: sh {CODE}; {SH}"),
    ('if X=1 eval "v={{ a }}"; then :; fi', f"template {{{{ a }}}}: eval {CODE}; eval only fixed text, and let it "
                                              "refer to a variable: v={{ a }}; eval 'cmd \"$v\"'"),
    ('x=$(ssh -p 22 -lbatch host "backup {{ a }}")', f"template {{{{ a }}}}: ssh {CODE}; ssh runs it with the "
                                                      "remote shell; send the value on ssh's input instead: printf "
                                                      "'%s\\n' {{ a }} | ssh host 'read -r v; cmd \"$v\"'"),
    ('echo | python3.11 -c "print({{ a }})"', f"template {{{{ a }}}}: python {CODE}; {INTERPRETER}"),
    ("(su - batch -c 'true' && su -c {{ a }})", f"template {{{{ a }}}}: su {CODE}; hand it the value as data (an "
                                                "argument, or an environment variable its code reads), not inside "
                                                "its code"),
    ("let n={{ a }}+1", f"template {{{{ a }}}}: let {CODE}; bash evaluates let's arithmetic as code; assign it to "
                        "a variable first (v={{ a }}), check it is a number (case $v in ''|*[!0-9]*) exit 2;; esac), "
                        "then let n=v+1"),
    ("bash {{ a }} x", "template {{ a }}: a template at the start of an argument of the shell bash before its code "
                       "could be read as an option (a value -c would make the next argument code); put '--' before "
                       "it, or text before the template"),
]


TRAP = ("trap runs it when the signal comes; assign it to a variable first (v={{ a }}) and let fixed code refer to "
        "it: trap 'cleanup \"$v\"' EXIT")
EVAL = "eval only fixed text, and let it refer to a variable: v={{ a }}; eval 'cmd \"$v\"'"
PROGRAM = ("template {{ a }}: a template where the program to run is named (the command, the program a wrapper such as "
           "env, exec, command, nohup, timeout, xargs or sudo runs, env -S's text, or the start of such a wrapper's "
           "option or operand, whose value could move the program) would let an arg choose the program; a job's "
           "program is its author's choice: pick among fixed programs with a case statement on the arg (case "
           "{{ a }} in start) prog-start;; stop) prog-stop;; *) exit 2;; esac)")

INTERPRETED = ("template {{ a }}: a template at the start of an option of {program} or in the script it runs could "
               "make an arg code (a value -c or -e makes the next argument code) or choose the script; the script "
               "is its author's choice: give the value after it (python3 /srv/job.py {{ a }}, python3 -c '...' "
               "{{ a }})")


def names(builtin: str, template: str = "{{ a }}") -> str:
    return (f"template {template}: bash may read this argument of {builtin} as a variable's name and run the code in "
            "its subscript (a[$(cmd)]), so a template in it would make an arg code; write the names and options "
            "yourself and give the value as data: read -r v <<< {{ a }}, declare v={{ a }} (with no options), "
            "printf -v v '%s' {{ a }}, [ -n \"${v+set}\" ] for test -v")


# Holes a review found (each ran the arg as code under dash or bash, or let it choose the program): refused.
HOLES = [
    ('trap "{{ a }}" EXIT; true', f"template {{{{ a }}}}: trap {CODE}; {TRAP}"),
    ('builtin eval "{{ a }}"', f"template {{{{ a }}}}: eval {CODE}; {EVAL}"),
    ('command eval "{{ a }}"', f"template {{{{ a }}}}: eval {CODE}; {EVAL}"),
    ("exec env -i nohup time eval x{{ a }}", f"template {{{{ a }}}}: eval {CODE}; {EVAL}"),
    ("read -r {{ a }} < /dev/null", names("read")),
    ("printf -v {{ a }} %s 1", names("printf")),
    ('printf "{{ a }}" x', names("printf")),
    ("declare {{ a }}", names("declare")),
    ("declare -i n={{ a }}", names("declare")),
    ("typeset -a x={{ a }}", names("typeset")),
    ("f() { local x=1 {{ a }}; }", names("local")),
    ('export "{{ a }}"', names("export")),
    ("readonly x{{ a }}=1", names("readonly")),
    ("unset {{ a }}", names("unset")),
    ("test -v {{ a }}", names("test")),
    ("[ -v {{ a }} ]", names("[")),
    ("[ {{ b }} {{ a }} ]", names("[")),
    ("getopts ab {{ a }}", names("getopts")),
    ("mapfile -t {{ a }}", names("mapfile")),
    ("readarray {{ a }}", names("readarray")),
    ('python3 -Ic "{{ a }}"', f"template {{{{ a }}}}: python {CODE}; {INTERPRETER}"),
    ('perl -ne "{{ a }}"', f"template {{{{ a }}}}: perl {CODE}; {INTERPRETER}"),
    ('perl -lne "{{ a }}"', f"template {{{{ a }}}}: perl {CODE}; {INTERPRETER}"),
    ('perl -pe "{{ a }}"', f"template {{{{ a }}}}: perl {CODE}; {INTERPRETER}"),
    ('perl -I/usr/lib -e "{{ a }}"', f"template {{{{ a }}}}: perl {CODE}; {INTERPRETER}"),
    ("a[{{ a }}]=1", "template {{ a }}: it is in an array subscript: bash evaluates an indexed array's subscript as "
                     "arithmetic code; assign it to a variable first (v={{ a }}), check it is a number (case $v in "
                     "''|*[!0-9]*) exit 2;; esac), then use a[v]"),
    ("python3 {{ a }} x", INTERPRETED.replace("{program}", "python")),
    ("sudo -u batch python3 -u /opt/{{ a }}.py", INTERPRETED.replace("{program}", "python")),
    ("node -- {{ a }}", INTERPRETED.replace("{program}", "node")),
    ("perl -w {{ a }} x", INTERPRETED.replace("{program}", "perl")),
    (". {{ a }}", PROGRAM),
    ("{{ a }}", PROGRAM),
    ('"{{ a }}" --x', PROGRAM),
    ("/opt/{{ a }}", PROGRAM),
    ("X=1 {{ a }} 2>&1", PROGRAM),
    ("true && {{ a }}", PROGRAM),
    ("if true; then {{ a }}; fi", PROGRAM),
    ("echo $({{ a }})", PROGRAM),
    ("f() { {{ a }}; }", PROGRAM),
    ("function f { {{ a }}; }", PROGRAM),
    ("f () { {{ a }}; }", PROGRAM),
    ("env {{ a }}", PROGRAM),
    ("env X=1 -u Y {{ a }}", PROGRAM),
    ("exec {{ a }}", PROGRAM),
    ("command -p {{ a }}", PROGRAM),
    ("builtin {{ a }}", PROGRAM),
    ("nohup {{ a }}", PROGRAM),
    ("nice -n 5 {{ a }}", PROGRAM),
    ("timeout -s KILL 5 {{ a }}", PROGRAM),
    ("timeout {{ a }} 5 prog", PROGRAM),
    ("xargs -I{} -n 1 {{ a }}", PROGRAM),
    ("sudo -u batch {{ a }}", PROGRAM),
    ("find /srv -type f -exec {{ a }} {} +", PROGRAM),
    ('env -S "{{ a }}"', PROGRAM),
    ('env -iS"prog {{ a }}"', PROGRAM),
    ('env --split-string="prog {{ a }}"', PROGRAM),
]


@pytest.mark.parametrize(("command", "message"), HOLES, ids=[command for command, _ in HOLES])
def test_a_template_that_would_be_code_a_name_or_the_program_is_refused(command: str, message: str) -> None:
    for program, path in ((command, ()), (["/bin/bash", "-c", command], (2,))):
        with pytest.raises(InvalidFields) as caught:
            parse_program(program)
        assert caught.value.problems == [(path, message)]


@pytest.mark.parametrize(("argv", "index"), [
    (["{{ a }}"], 0), (["{{ a }}", "-x"], 0), (["/usr/bin/env", "{{ a }}"], 1), (["env", "A=1", "{{ a }}", "x"], 2),
    (["sudo", "-u", "b", "--", "{{ a }}"], 4), (["timeout", "5", "{{ a }}"], 2), (["nohup", "/opt/{{ a }}"], 1),
    (["env", "-S", "{{ a }} x"], 2), (["env", "--split-string={{ a }}"], 1), (["xargs", "-0", "{{ a }}"], 2),
])
def test_an_argv_item_that_names_the_program_may_hold_no_template(argv: list[str], index: int) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_program(argv)
    assert caught.value.problems == [((index,), PROGRAM.removeprefix("template {{ a }}: "))]


@pytest.mark.parametrize("argv", [["python3", "-Ic", "{{ a }}"], ["perl", "-lne", "{{ a }}"], ["perl", "-pe{{ a }}"]])
def test_a_code_option_at_the_end_of_a_cluster_is_found(argv: list[str]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_program(argv)
    ((path, message),) = caught.value.problems
    assert path == (len(argv) - 1,) and message.startswith(f"{argv[0].rstrip('3')} runs this argument as code")


@pytest.mark.parametrize(("command", "message"), NESTED, ids=[command for command, _ in NESTED])
def test_a_template_in_an_argument_a_program_runs_as_code_is_refused(command: str, message: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_program(command)
    assert caught.value.problems == [((), message)]


@pytest.mark.parametrize("command", [
    "sh -c 'echo \"$1\"' sh {{ a }}", "echo eval {{ a }}", "ssh {{ a }} uptime", "python3 -c 'import sys' {{ a }}",
    "perl -ne 'print' -- {{ a }}", "sh -c true; printf %s {{ a }}", "watch_it {{ a }}",
    "trap 'rm -f \"$f\"' EXIT; f={{ a }}", "read -r v <<< {{ a }}", "declare v={{ a }}", 'export V="{{ a }}"',
    "printf -v v '%s' {{ a }}", "[ -n {{ a }} ]", "[ {{ a }} = {{ b }} ]", "env A={{ a }} prog", "echo x > {{ a }}",
    "case {{ a }} in start) prog-start;; *) exit 2;; esac", "xargs -I{} prog {} {{ a }}",
    "python3 -u /srv/job.py {{ a }}", "grep python {{ a }}", "source ./lib.sh {{ a }}",
])
def test_a_template_that_is_data_for_such_a_program_is_not_refused(command: str) -> None:
    assert parse_program(command).command == command


@pytest.mark.parametrize(("argv", "index", "program"), [
    (["python3.11", "-c", "print('{{ a }}')"], 2, "python"), (["perl", "-e{{ a }}"], 1, "perl"),
    (["ssh", "-i", "key", "-p22", "host", "ls {{ a }}"], 5, "ssh"), (["ssh", "--", "host", "x", "{{ a }}"], 4, "ssh"),
    (["watch", "-n", "5", "{{ a }}"], 3, "watch"), (["flock", "/run/l", "-c", "{{ a }}"], 3, "flock"),
])
def test_an_argv_item_a_program_runs_as_code_may_hold_no_template(argv: list[str], index: int, program: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_program(argv)
    ((path, message),) = caught.value.problems
    assert path == (index,) and message.startswith(f"{program} runs this argument as code")


@pytest.mark.parametrize(("command", "message"), REFUSED, ids=[command for command, _ in REFUSED])
def test_a_template_where_a_reference_cannot_be_exact_is_refused_with_the_fix(command: str, message: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_program(command)
    assert caught.value.problems == [((), message)]
    with pytest.raises(InvalidFields) as caught:
        parse_program(["/bin/bash", "-c", command])
    assert caught.value.problems == [((2,), message)]


@pytest.mark.parametrize(("argv", "script"), [
    (["sh", "-c", "x"], 2), (["/bin/bash", "-euxo", "pipefail", "-c", "x"], 4), (["env", "A=1", "zsh", "-lc", "x"], 4),
    (["nice", "-n5", "/usr/bin/dash", "--", "x"], None), (["dash", "-c", "--", "x", "y"], 3),
    (["bash", "--norc", "--rcfile", "f", "-c", "x"], 5), (["bash", "script.sh", "-c", "x"], None),
    (["grep", "sh", "-c"], None), (["sh", "-c"], None), (["/bin/echo", "-c", "x"], None), (["sh", "-c", "{{ a }}"], 2),
])
def test_the_script_of_an_argv_is_the_operand_after_a_shells_c_option(argv: list[str], script: int | None) -> None:
    assert shell_script(tuple(argv)) == (script, [])


def test_a_template_that_could_be_a_shells_option_is_refused() -> None:
    for argv in (["bash", "{{ a }}", "echo"], ["sh", "-e", "{{ a }}x", "{{ b }}"]):
        with pytest.raises(InvalidFields) as caught:
            parse_program(argv)
        index = argv.index(next(word for word in argv if word.startswith("{{")))
        assert caught.value.problems == [((index,), f"a template at the start of an argument of the shell {argv[0]} "
                                                   "before its code could be read as an option (a value -c would "
                                                   "make the next argument code); put '--' before it, or text before "
                                                   "the template")]
    assert bind(parse_program(["bash", "--", "{{ a }}"]), {"a": "-c"}, {}).argv == ("bash", "--", "-c")


def test_a_run_without_an_arg_its_code_refers_to_is_an_error_not_an_empty_value() -> None:
    with pytest.raises(InvalidFields) as caught:
        bind(parse_program("echo {{ a }}"), {}, {})
    assert caught.value.problems == [(("program", "command"), "template: 'a' is undefined")]


def test_run_id_and_job_id_are_the_variables_every_run_has() -> None:
    program = bind(parse_program('echo {{ run_id }} "{{ job_id }}"'), {"run_id": "r1", "job_id": "j"}, {})
    assert (program.command, dict(program.env)) == ('echo "${APSIS_RUN_ID}" "${APSIS_JOB_ID}"',
                                                    {"APSIS_RUN_ID": "r1", "APSIS_JOB_ID": "j"})


def test_the_code_is_the_same_whatever_the_values() -> None:
    text = "a {{ x }} \"{{ y | e }}\" $(b {{ x }}) c{{ x }}d"
    parsed = shell_code(text)
    assert not isinstance(parsed, list)
    assert parsed.code == ('a "${APSIS_ARG_x}" "${APSIS_TEMPLATE_2}" $(b "${APSIS_ARG_x}") '
                           'c"${APSIS_ARG_x}"d')
    assert not any(value for name, value in parsed.variables if "{{" not in value)


def test_a_refusal_in_a_job_file_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "j.yaml").write_text("params: [a]\nprogram:\n  type: shell\n  command: |\n    set -e\n"
                                     "    echo '{{ a }}'\n")
    (tmp_path / "k.yaml").write_text("params: [a]\nprogram: [/bin/sh, -c, 'echo `{{ a }}`']\n")
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(tmp_path)
    assert [(problem.file, problem.line, problem.field, problem.message[:70])
            for problem in caught.value.problems] == [
        (str(tmp_path / "j.yaml"), 4, "program.command",
         "(line 2 of the code) template {{ a }} is inside single quotes, where t"),
        (str(tmp_path / "k.yaml"), 2, "program[2]", "template {{ a }} is inside backticks, where the shell cannot take "
                                                    "it a"),
    ]


def test_the_shipped_examples_hold_no_value_in_their_code() -> None:
    hostile = f"'\"$(touch {MARK})"
    jobs = load_jobs(ROOT / "etc" / "jobs")
    for job in jobs.jobs.values():
        args = {name: "2026-03-02" if name == "date" else hostile for name in job.params}  # helpers need a date
        program = bind(job.program, {**args, "run_id": "r", "job_id": job.id}, jobs.calendars)
        code = program.command if program.kind is Kind.SHELL else " ".join(program.argv or ())
        if program.kind is Kind.SHELL or shell_script(job.program.argv or ())[0] is not None:
            assert hostile not in (code or ""), job.id


def test_a_value_that_looks_like_a_template_is_never_rendered_again() -> None:
    value = "{{ run_id }}{% for x in range(9) %}x{% endfor %}{# #}"
    args = {"a": value, "run_id": "r1", "job_id": "j"}
    shell = bind(parse_program('echo {{ a }} "{{ a | lower }}"'), args, {})
    assert dict(shell.env) == {"APSIS_ARG_a": value, "APSIS_TEMPLATE_2": value.lower()}
    argv = bind(parse_program(["/bin/echo", "{{ a }}", "{{ a }}{{ run_id }}"]), args, {})
    assert argv.argv == ("/bin/echo", value, value + "r1")
