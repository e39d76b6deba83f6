"""A job's `scheduling:` key: parsed with every problem named, and laid over the daemon's defaults."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from apsisd.errors import InvalidFields
from apsisd.jobs.parse import JobParser
from apsisd.jobs.scheduling import DEFAULTS, UNSET, CatchUp, Scheduling, parse_scheduling, positive_duration

DURATION_HELP = "use a number of seconds or a duration such as 90s, 15m, 4h, 1d or 1h30m"

# (the value as a job file writes it) -> the Scheduling it means
GOOD: list[tuple[str, Scheduling]] = [
    ("{}", UNSET),
    ("{horizon: 2h}", Scheduling(horizon=7200.0)),
    ("{horizon: 90}", Scheduling(horizon=90.0)),
    ("{horizon: 1h30m, max_scheduled: 5, catchup: none, max_age: 600}",
     Scheduling(horizon=5400.0, max_scheduled=5, catchup=CatchUp.NONE, max_age=600.0)),
    ("{catchup: all}", Scheduling(catchup=CatchUp.ALL)),
    ("{catchup: latest, max_age: 1d}", Scheduling(catchup=CatchUp.LATEST, max_age=86400.0)),
    ("{max_scheduled: 1}", Scheduling(max_scheduled=1)),
    ("{horizon: 3650d, max_age: 0.5}", Scheduling(horizon=3650 * 86400.0, max_age=0.5)),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[case[0] for case in GOOD])
def test_parse(text: str, expected: Scheduling) -> None:
    assert parse_scheduling(yaml.safe_load(text)) == expected


ABOVE_ZERO = "must be a duration above zero such as 30m, 1d, not "
TOO_LONG = "must be at most 3650d (10 years), not "
COUNT = "must be a whole number of runs, at least 1, not "
CATCHUP = "must be one of all, latest, none, not "
# (value) -> every problem, (path, message)
BAD: list[tuple[str, Any, list[tuple[tuple[str | int, ...], str]]]] = [
    ("nothing", None, [((), "scheduling must be a mapping of keys to values, not nothing (null)")]),
    ("a list", ["horizon"], [((), "scheduling must be a mapping of keys to values, not a list")]),
    ("a string", "1d", [((), "scheduling must be a mapping of keys to values, not a string '1d'")]),
    ("an unknown key", {"horizon": "1d", "lookahead": "2d"},
     [(("lookahead",), "unknown key; allowed here: catchup, horizon, max_age, max_scheduled")]),
    ("a zero horizon", {"horizon": "0s"}, [(("horizon",), ABOVE_ZERO + "a string '0s'")]),
    ("a zero number", {"horizon": 0}, [(("horizon",), ABOVE_ZERO + "a number 0")]),
    ("a negative horizon", {"horizon": "-1h"}, [(("horizon",), f"'-1h' is not a duration; {DURATION_HELP}")]),
    ("not a duration", {"max_age": "soon"}, [(("max_age",), f"'soon' is not a duration; {DURATION_HELP}")]),
    ("a boolean duration", {"horizon": True},
     [(("horizon",), "must be a number of seconds or a duration such as 90s, 15m, 4h, 1d or 1h30m, not a boolean "
                     "True")]),
    ("a null duration", {"max_age": None},
     [(("max_age",), "must be a number of seconds or a duration such as 90s, 15m, 4h, 1d or 1h30m, not nothing "
                     "(null)")]),
    # Too far for datetime arithmetic (the scheduler adds the horizon to now, takes max_age from it).
    ("a horizon past year 9999", {"horizon": "100000000d"}, [(("horizon",), TOO_LONG + "a string '100000000d'")]),
    ("a horizon of 1e300 s", {"horizon": 1e300}, [(("horizon",), TOO_LONG + "a number 1e+300")]),
    ("an infinite max_age", {"max_age": float("inf")}, [(("max_age",), "must be a finite duration, not inf; "
                                                         + DURATION_HELP)]),
    ("just over ten years", {"max_age": "3650d1s"}, [(("max_age",), TOO_LONG + "a string '3650d1s'")]),
    ("not a number", {"horizon": float("nan")}, [(("horizon",), "must be a finite duration, not nan; "
                                                  + DURATION_HELP)]),
    ("no runs", {"max_scheduled": 0}, [(("max_scheduled",), COUNT + "a number 0")]),
    ("a fraction of a run", {"max_scheduled": 1.5}, [(("max_scheduled",), COUNT + "a number 1.5")]),
    ("a boolean count", {"max_scheduled": True}, [(("max_scheduled",), COUNT + "a boolean True")]),
    ("a count as text", {"max_scheduled": "3"}, [(("max_scheduled",), COUNT + "a string '3'")]),
    ("an unknown policy", {"catchup": "some"}, [(("catchup",), CATCHUP + "a string 'some'")]),
    ("a policy by number", {"catchup": 1}, [(("catchup",), CATCHUP + "a number 1")]),
    ("a list of policies", {"catchup": ["all"]}, [(("catchup",), CATCHUP + "a list")]),
    ("a policy spelt in capitals", {"catchup": "ALL"}, [(("catchup",), CATCHUP + "a string 'ALL'")]),
    ("every problem at once", {"horizon": "x", "max_scheduled": 0, "catchup": "no", "max_age": "1h", "y": 1},
     [(("horizon",), f"'x' is not a duration; {DURATION_HELP}"), (("max_scheduled",), COUNT + "a number 0"),
      (("catchup",), CATCHUP + "a string 'no'"),
      (("y",), "unknown key; allowed here: catchup, horizon, max_age, max_scheduled")]),
]


@pytest.mark.parametrize(("what", "value", "problems"), BAD, ids=[case[0] for case in BAD])
def test_parse_refuses(what: str, value: Any, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    with pytest.raises(InvalidFields) as raised:
        parse_scheduling(value)
    assert raised.value.problems == problems


def test_the_longest_duration_allowed_can_be_added_to_and_taken_from_now() -> None:
    longest = positive_duration("3650d")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    assert now - timedelta(seconds=longest) < now < now + timedelta(seconds=longest)


def test_a_job_files_scheduling_key_reaches_the_job_and_its_problems_say_where() -> None:
    parser = JobParser({}, ["j"])
    text = 'program: "true"\nscheduling: {horizon: 2d, catchup: all}\n'
    assert parser.parse("j", yaml.safe_load(text)).scheduling == Scheduling(horizon=172800.0, catchup=CatchUp.ALL)
    assert parser.parse("j", yaml.safe_load('program: "true"\n')).scheduling is UNSET
    with pytest.raises(InvalidFields) as raised:
        parser.parse("j", yaml.safe_load('program: "true"\nscheduling: {max_scheduled: 0, catchup: never}\n'))
    assert raised.value.problems == [(("scheduling", "max_scheduled"), COUNT + "a number 0"),
                                     (("scheduling", "catchup"), CATCHUP + "a string 'never'")]


# (the job's settings, the daemon's defaults) -> what applies
OVER: list[tuple[str, Scheduling, Scheduling, Scheduling]] = [
    ("nothing said: the defaults", UNSET, DEFAULTS, DEFAULTS),
    ("everything said: the job's", Scheduling(horizon=60.0, max_scheduled=2, catchup=CatchUp.ALL, max_age=5.0),
     DEFAULTS, Scheduling(horizon=60.0, max_scheduled=2, catchup=CatchUp.ALL, max_age=5.0)),
    ("each field on its own", Scheduling(max_scheduled=3, max_age=7200.0), DEFAULTS,
     Scheduling(horizon=86400.0, max_scheduled=3, catchup=CatchUp.LATEST, max_age=7200.0)),
    ("a default left open stays open", Scheduling(catchup=CatchUp.NONE),
     Scheduling(horizon=3600.0, max_scheduled=1), Scheduling(horizon=3600.0, max_scheduled=1,
                                                              catchup=CatchUp.NONE)),
]


@pytest.mark.parametrize(("what", "job", "defaults", "expected"), OVER, ids=[case[0] for case in OVER])
def test_over(what: str, job: Scheduling, defaults: Scheduling, expected: Scheduling) -> None:
    assert job.over(defaults) == expected


def test_the_defaults() -> None:
    """A day of runs ahead, ten at most per job, only the newest missed run of each args, no age limit."""
    assert DEFAULTS == Scheduling(horizon=86400.0, max_scheduled=10, catchup=CatchUp.LATEST, max_age=None)
    assert UNSET == Scheduling(horizon=None, max_scheduled=None, catchup=None, max_age=None)
    assert [str(policy) for policy in CatchUp] == ["all", "latest", "none"]
