"""Where each template stands in shell code: a word, inside double quotes, or somewhere it must be refused.

A small lexer of POSIX sh (with the bash, ksh and zsh forms that change
what is quoted: `$'...'`, `[[ ]]`, `(( ))`), run over a command whose
templates are replaced by SLOT. It only has to tell, for each slot, whether
a reference to an environment variable put there means exactly the value:
outside quotes (`"${NAME}"`), inside double quotes (`${NAME}`). Everywhere
else it answers why not. A mistake here can never run an arg as code (the
code holds only references, never values); at worst a reference would be
split into words or kept literally, which is why anything this lexer does
not follow is refused rather than guessed.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

SLOT = "\0"  # no shell command holds a NUL (the program's parser refuses it)
_BLANKS = " \t"
_WORD_END = " \t\n;&|()<>"
# Characters that mean nothing to the lexer in any context: skipped in runs.
_PLAIN = re.compile(r"[A-Za-z0-9 \t_\-./=,:@+%^~*?!]+")
_WORD = re.compile(r"[^ \t]+")


class Context(enum.Enum):
    """A slot's place in the code; WORD and QUOTED take a reference, the others are refused."""

    WORD = "word"  # outside any quotes: `"${NAME}"`
    QUOTED = "double quotes"  # inside "...": `${NAME}`
    SINGLE = "single quotes"
    ANSI = "$'...' quotes"
    BACKTICK = "backticks"
    PARAMETER = "a ${...} expansion"
    ARITHMETIC = "an arithmetic expression"
    TEST = "[[ ... ]]"
    COMMENT = "a comment"
    HEREDOC = "a here-document"
    SUBSCRIPT = "an array subscript"
    BACKSLASH = "right after a backslash"
    DOLLAR = "right after a $"


# What holds a slot: the kinds of the lexer's stack. CODE, SUBSHELL, COMMAND_SUB and ARRAY (the values of
# `arr=( )`) are plain code.
_CODE, _SUBSHELL, _COMMAND_SUB, _ARITH_PAREN, _ARRAY = "code", "(", "$(", "arith(", "=("
_CODE_KINDS = frozenset({_CODE, _SUBSHELL, _COMMAND_SUB, _ARRAY})
_HOLDERS = {"'": Context.SINGLE, "$'": Context.ANSI, "`": Context.BACKTICK, "${": Context.PARAMETER,
            "((": Context.ARITHMETIC, _ARITH_PAREN: Context.ARITHMETIC, "[[": Context.TEST, "#": Context.COMMENT}


@dataclass(frozen=True, slots=True)
class Slot:
    """One slot: its context, and the text of its simple command up to it (from the last `;`, `|`, newline...)."""

    context: Context
    command: str


def scan(code: str) -> list[Slot]:
    """Each SLOT of `code`, in order."""
    return _Lexer(code).run()


class _Lexer:
    def __init__(self, code: str) -> None:
        self.code = code
        self.stack = [_CODE]
        self.starts = [0]  # where the current simple command of each level of plain code starts
        self.cases = [0]  # how many `case` statements are open at each level: their patterns end in `)`
        self.found: list[Slot] = []
        self.heredocs: list[tuple[str, bool]] = []  # delimiter, tabs stripped (<<-): read after the line ends

    def run(self) -> list[Slot]:
        code, i = self.code, 0
        while i < len(code):
            plain = _PLAIN.match(code, i)
            if plain is not None:
                if self.stack[-1] in _CODE_KINDS:
                    self.keywords(i, plain.end())
                i = plain.end()
                continue
            i = self.step(i, code[i], self.stack[-1])
        return self.found

    def step(self, i: int, char: str, top: str) -> int:
        """Read what starts at `i`; the index after it."""
        code = self.code
        if char == SLOT:
            self.add(i, self.context())
            return i + 1
        if top == "#":
            if char == "\n":
                self.stack.pop()
                return i  # the newline ends the command line too (here-documents)
            return i + 1
        if top == "'":
            if char == "'":
                self.stack.pop()
            return i + 1
        if char == "\\":
            if code[i + 1 : i + 2] == SLOT:
                context = self.context()
                self.add(i + 1, Context.BACKSLASH if context in (Context.WORD, Context.QUOTED) else context)
            return i + 2
        if top == "$'":
            if char == "'":
                self.stack.pop()
            return i + 1
        if top == "`":
            if char == "`":
                self.stack.pop()
            return i + 1
        if char == "$":
            return self.dollar(i)
        if top == '"':
            if char == '"':
                self.stack.pop()
            elif char == "`":
                self.stack.append("`")
            return i + 1
        if char in "'\"`":
            self.stack.append(char)
            return i + 1
        if top == "${":
            if char == "}":
                self.stack.pop()
            return i + 1
        if top in ("((", _ARITH_PAREN):
            return self.arithmetic(i, char, top)
        return self.in_code(i, char, top)

    def in_code(self, i: int, char: str, top: str) -> int:
        code = self.code
        starts_word = i == 0 or code[i - 1] in _WORD_END
        if char == "#" and starts_word:
            self.stack.append("#")
        elif char == "(" and code.startswith("((", i) and starts_word and top != "[[":
            self.stack.append("((")
            return i + 2
        elif char == "(" and i > 0 and code[i - 1] == "=" and top != "[[":  # arr=( values )
            self.stack.append(_ARRAY)
            self.starts.append(i + 1)
            self.cases.append(0)
        elif char == "(":
            self.stack.append(_SUBSHELL)
            self.starts.append(i + 1)
            self.cases.append(0)
        elif char == ")" and top in (_SUBSHELL, _COMMAND_SUB, _ARRAY) and not self.cases[-1]:
            self.stack.pop()
            self.starts.pop()
            self.cases.pop()
        elif char in ";&|\n" or char == ")":  # a `)` in plain code is a case pattern's end
            self.starts[-1] = i + 1
            if char == "\n" and self.heredocs:
                return self.heredoc_bodies(i + 1)
        elif code.startswith("[[", i) and starts_word and code[i + 2 : i + 3] in ("", *_BLANKS, "\n"):
            self.stack.append("[[")
            return i + 2
        elif top == "[[" and code.startswith("]]", i) and code[i + 2 : i + 3] in ("", *_WORD_END):
            self.stack.pop()
            return i + 2
        elif code.startswith("<<<", i):
            return i + 3  # a here-string: a word follows
        elif code.startswith("<<", i):
            return self.heredoc_operator(i + 2)
        return i + 1

    def keywords(self, start: int, end: int) -> None:
        """Count the `case` and `esac` words of plain text from `start` to `end`."""
        code = self.code
        for word in _WORD.finditer(code, start, end):
            if word.group() not in ("case", "esac"):
                continue
            before, after = word.start() - 1, word.end()
            if (before < 0 or code[before] in _WORD_END) and (after == len(code) or code[after] in _WORD_END):
                self.cases[-1] = max(0, self.cases[-1] + (1 if word.group() == "case" else -1))

    def dollar(self, i: int) -> int:
        """`$` and what it starts: `$'`, `$(`, `$((`, `${` (in double quotes only the last three)."""
        code, top = self.code, self.stack[-1]
        after = code[i + 1 : i + 2]
        if after == SLOT:
            context = self.context()
            self.add(i + 1, Context.DOLLAR if context in (Context.WORD, Context.QUOTED) else context)
            return i + 2
        if after == "'" and top != '"':
            self.stack.append("$'")
        elif after == "(" and code[i + 2 : i + 3] == "(":
            self.stack.append("((")
            return i + 3
        elif after == "(":
            self.stack.append(_COMMAND_SUB)
            self.starts.append(i + 2)
            self.cases.append(0)
        elif after == "{":
            self.stack.append("${")
        else:
            return i + 1
        return i + 2

    def arithmetic(self, i: int, char: str, top: str) -> int:
        if char == "(":
            self.stack.append(_ARITH_PAREN)
        elif char == ")" and top == _ARITH_PAREN:
            self.stack.pop()
        elif char == ")":
            self.stack.pop()
            return i + 2 if self.code[i + 1 : i + 2] == ")" else i + 1
        return i + 1

    def heredoc_operator(self, i: int) -> int:
        """After `<<`: an optional `-`, blanks, then the delimiter word, whose body is read after the line."""
        code = self.code
        strip = code[i : i + 1] == "-"
        i += strip
        while i < len(code) and code[i] in _BLANKS:
            i += 1
        delimiter, quote = [], ""
        while i < len(code) and (quote or code[i] not in _WORD_END):
            char = code[i]
            if char == SLOT:
                self.add(i, Context.HEREDOC)
            elif quote and char == quote:
                quote = ""
            elif not quote and char in "'\"":
                quote = char
            elif char == "\\" and quote != "'":
                delimiter.append(code[i + 1 : i + 2])
                i += 1
            else:
                delimiter.append(char)
            i += 1
        self.heredocs.append(("".join(delimiter), strip))
        return i

    def heredoc_bodies(self, i: int) -> int:
        """Skip the bodies of the line's here-documents (starting at `i`), each up to its delimiter line."""
        code = self.code
        for delimiter, strip in self.heredocs:
            while i < len(code):
                end = code.find("\n", i)
                end = len(code) if end < 0 else end
                line = code[i:end]
                self.found.extend(Slot(Context.HEREDOC, "") for _ in range(line.count(SLOT)))
                i = end + 1
                if (line.lstrip("\t") if strip else line) == delimiter:
                    break
        self.heredocs = []
        return i

    def add(self, i: int, context: Context) -> None:
        """A slot at `i`: with its command's text when a reference may stand there."""
        command = self.code[self.starts[-1] : i] if context in (Context.WORD, Context.QUOTED) else ""
        if context in (Context.WORD, Context.QUOTED) and next(
                kind for kind in reversed(self.stack) if kind != '"') == _ARRAY:
            word = re.split(r"[ \t\n]", command)[-1].lstrip("\"'")
            if word.startswith("[") and "]=" not in word:  # arr=([i]=v): bash evaluates i as arithmetic
                context, command = Context.SUBSCRIPT, ""
            else:
                command = ": " + command  # a value of the array, as if an argument
        self.found.append(Slot(context, command))

    def context(self) -> Context:
        """The context of a slot at the current position."""
        top = self.stack[-1]
        if top in _CODE_KINDS:
            return Context.WORD
        if top != '"':
            return _HOLDERS[top]
        holder = next(kind for kind in reversed(self.stack) if kind != '"')
        return Context.QUOTED if holder in _CODE_KINDS else _HOLDERS[holder]
