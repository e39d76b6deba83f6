"""JobTexts: each job's JSON made once per version and level shown; shown_to: only operators see env values."""
from __future__ import annotations

import json
from dataclasses import replace

from agentd.types import JobId
from apsisd.api.access import Principal
from apsisd.api.job_texts import JobTexts, shown_to
from apsisd.jobs.jso import Shown, written
from apsisd.jobs.model import Job
from apsisd.jobs.program import parse_program
from apsisd.rights import Right

PROGRAM = {"type": "shell", "command": "make", "env": {"TOKEN": "t0k3n"}}
JOB = Job(id=JobId("j"), program=parse_program(PROGRAM), written=written({"program": PROGRAM}))


def test_each_level_has_its_own_text_made_once_per_version_of_the_job() -> None:
    texts = JobTexts()
    operator, reader = texts.of(JOB, Shown.OPERATOR), texts.of(JOB, Shown.READER)
    assert json.loads(operator)["program"]["env"] == {"TOKEN": "t0k3n"}
    assert json.loads(reader)["program"]["env"] == {"TOKEN": "(hidden)"} and "t0k3n" not in reader
    assert texts.of(JOB, Shown.OPERATOR) is operator and texts.of(JOB, Shown.READER) is reader
    changed = {**PROGRAM, "env": {"TOKEN": "n3w"}}
    newer = replace(JOB, program=parse_program(changed), written=written({"program": changed}))
    assert json.loads(texts.of(newer, Shown.OPERATOR))["program"]["env"] == {"TOKEN": "n3w"}
    assert texts.array([newer, newer], Shown.READER) == "[" + ", ".join([texts.of(newer, Shown.READER)] * 2) + "]"


def test_only_those_who_may_operate_are_shown_secrets() -> None:
    assert [shown_to(Principal(name="x", right=right)) for right in Right] == [
        Shown.READER, Shown.READER, *[Shown.OPERATOR] * (len(Right) - 2)]
