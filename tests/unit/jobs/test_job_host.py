"""A job's `host:`: a host or group of apsisd.toml, local when absent; checked at load against the configured
names with its line; a job naming a host no longer configured is held at start and refuses a reload."""
from __future__ import annotations

from pathlib import Path

import pytest

from apsisd.errors import InvalidFiles
from apsisd.jobs.hosts import LOCAL, host_name, unknown_host
from apsisd.jobs.load import load_jobs, read_jobs

NAMES = frozenset({LOCAL, "db1", "dbs"})


def folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def test_absent_is_local_and_a_host_or_group_is_kept(tmp_path: Path) -> None:
    jobs = load_jobs(folder(tmp_path, a="program: echo\n", b="program: echo\nhost: db1\n",
                            c="host: dbs\nprogram: echo\n"), host_names=NAMES).jobs
    assert {job_id: job.host for job_id, job in jobs.items()} == {"a": LOCAL, "b": "db1", "c": "dbs"}


def test_local_needs_no_configuration(tmp_path: Path) -> None:
    assert load_jobs(folder(tmp_path, a="program: echo\nhost: local\n")).jobs["a"].host == LOCAL


def test_an_unknown_host_is_the_job_s_problem_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(folder(tmp_path, a="program: echo\n\nhost: db2\n"), host_names=NAMES)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{tmp_path}/a.yaml:3: host: no host or group 'db2' in apsisd.toml; use one of: db1, dbs, local, or add "
        "[hosts.db2] (or [host_groups.db2]) to apsisd.toml and restart apsisd"]


@pytest.mark.parametrize(("value", "shown"), [("3", "a number 3"), ("[db1]", "a list"), ("'db 1'", "'db 1'"),
                                              ("''", "''"), ("-db", "'-db'")])
def test_a_host_that_is_not_a_name(tmp_path: Path, value: str, shown: str) -> None:
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(folder(tmp_path, a=f"program: echo\nhost: {value}\n"), host_names=NAMES)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{tmp_path}/a.yaml:2: host: must be the name of a host or a group: a letter, then letters, digits, _ or -, "
        f"63 at most (such as db1 or web-eu); not {shown}"]


def test_a_host_removed_from_the_configuration_holds_its_jobs_at_start_and_refuses_a_reload(tmp_path: Path) -> None:
    """apsisd.toml is read at start: a host removed there is missing when apsisd starts again. read_jobs (the start)
    holds that job, its runs waiting, and loads the others; load_jobs (a reload) refuses the whole folder."""
    jobs = folder(tmp_path, a="program: echo\nhost: db1\n", b="program: echo\n")
    assert read_jobs(jobs, host_names=NAMES).jobs["a"].host == "db1"
    without = read_jobs(jobs, host_names=frozenset({LOCAL}))
    assert list(without.jobs) == ["b"] and without.held == {"a"}
    assert [(problem.line, problem.field) for problem in without.problems] == [(2, "host")]
    with pytest.raises(InvalidFiles):
        load_jobs(jobs, host_names=frozenset({LOCAL}))


def test_host_name_and_unknown_host() -> None:
    assert host_name("web-eu_2") == "web-eu_2"
    assert unknown_host("db1", NAMES) is None
    assert unknown_host("x", frozenset({LOCAL})) == (
        "no host or group 'x' in apsisd.toml; use one of: local, or add [hosts.x] (or [host_groups.x]) to "
        "apsisd.toml and restart apsisd")
