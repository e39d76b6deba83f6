"""The runs table's rows: every value escaped, the late marks, the elapsed time, the origin's tag, the outcome, the
line at now, a job's args as columns."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from agentd.types import JobId, RunId
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.web.run_rows import elapsed, late, origin, outcome, rows, when

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def run(number: int, state: State = State.SUCCESS, **changes: object) -> Run:
    fields: dict[str, object] = {"id": RunId(f"r{number}"), "job_id": JobId("etl/load"), "state": state,
                                 "schedule_time": NOW - timedelta(minutes=number)}
    fields.update(changes)
    return Run(**fields)  # type: ignore[arg-type]


def test_every_value_a_user_wrote_is_escaped() -> None:
    hostile = run(1, job_id=JobId("a<b>&\"c"), args=MappingProxyType({"x<": "<script>"}), host="h<1>",
                  signal="<SIG>", exit_code=None)
    text = rows([hostile], now=NOW, columns=(), zones={"a<b>&\"c": 'Zone"<'}, job_link=lambda job: f"/runs?job={job}",
                now_at=None)
    assert "<script>" not in text and "<b>" not in text and "h<1>" not in text and "<SIG>" not in text
    assert "x&lt;=&lt;script&gt;" in text and "a&lt;b&gt;&amp;&quot;c" in text
    with_columns = rows([hostile], now=NOW, columns=("x<",), zones={}, job_link=str, now_at=None)
    assert "<td>&lt;script&gt;</td>" in with_columns
    assert 'data-zone="Zone&quot;&lt;"' in when(NOW, 'Zone"<')


def test_a_run_not_started_is_late_after_ten_seconds_and_a_started_one_after_a_minute() -> None:
    assert ">late 11.0 s</span>" in late(run(0, State.SCHEDULED, schedule_time=NOW - timedelta(seconds=11)), NOW)
    assert 'class="late" data-due=' in late(run(0, State.WAITING, schedule_time=NOW - timedelta(seconds=9)), NOW)
    assert "late 9" not in late(run(0, State.WAITING, schedule_time=NOW - timedelta(seconds=9)), NOW)
    assert "started 1 min 01 s after its time" in late(run(1, lateness=61.0), NOW)
    assert late(run(1, lateness=59.0), NOW) == ""


def test_elapsed_ticks_while_running_and_stops_at_the_end() -> None:
    began = NOW - timedelta(seconds=90)
    running = run(1, State.RUNNING, times=MappingProxyType({State.RUNNING: began}))
    assert "data-until" not in elapsed(running, NOW) and ">1 min 30 s<" in elapsed(running, NOW)
    ended = run(1, State.FAILURE, times=MappingProxyType({State.RUNNING: began, State.FAILURE: began +
                                                          timedelta(seconds=2)}))
    assert "data-until=" in elapsed(ended, NOW) and ">2.0 s<" in elapsed(ended, NOW)
    assert elapsed(run(1, State.SCHEDULED), NOW) == ""


def test_origins_and_outcomes() -> None:
    assert "ad hoc" in origin(run(1, origin=Origin.ADHOC))
    assert origin(run(1)) == "" and ">rerun<" in origin(run(1, origin=Origin.RERUN))
    assert outcome(run(1, exit_code=3)) == "exit 3"
    assert outcome(run(1, result="timeout")) == "timeout" and outcome(run(1, result="success")) == ""


def test_the_line_at_now_goes_where_it_is_asked() -> None:
    three = [run(1), run(2), run(3)]
    for at in range(4):
        text = rows(three, now=NOW, columns=(), zones={}, job_link=str, now_at=at)
        order = [part for part in text.split("\n") if part]
        assert 'class="now"' in order[at] and text.count('class="now"') == 1
    assert 'class="now"' not in rows(three, now=NOW, columns=(), zones={}, job_link=str, now_at=None)
