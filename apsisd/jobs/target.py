"""Another job's run as a condition or action names it: `job_id` and `args`, filled in for one run.

Apsis's rules: each param of the named job takes the arg written for it
(templates rendered with the naming run's args), else the naming run's arg
of the same name; a param with neither is an error that says how to give
it. An arg written for a name the job has no param for is an error too
(Apsis dropped it silently, so a dependency matched runs other than the
ones meant).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from agentd.types import JobId
from apsisd.calendars.calendar import Calendar
from apsisd.errors import InvalidFields, invalid
from apsisd.fields import Fields, string, string_map
from apsisd.jobs.rendering import Renderer
from apsisd.runs.model import EMPTY, Run

ParamsOf = Callable[[JobId], tuple[str, ...] | None]


def instance(job_id: str, args: Mapping[str, str]) -> str:
    """'etl/load(date=2026-11-26, region=uk)': a job and args as logs show them."""
    return f"{job_id}({', '.join(f'{name}={value}' for name, value in args.items())})" if args else job_id


def job_id_field(value: object) -> str:
    """A job id as written in a condition or action: non-empty text, which may hold a template."""
    text = string(value)
    if not text.strip():
        raise invalid("must be a job id (the job file's path under the jobs folder, without .yaml)")
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A job and the args written for its run; either may hold templates until for_run()."""

    job_id: str
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    @classmethod
    def read(cls, fields: Fields) -> Target:
        """`job_id` (required) and `args` (a mapping, default none) from `fields`; problems go there."""
        job_id = fields.take("job_id", job_id_field)
        args = fields.take("args", string_map, {})
        return cls(job_id=job_id, args=MappingProxyType(args))

    def for_run(self, run: Run, params_of: ParamsOf, calendars: Mapping[str, Calendar],
                ) -> tuple[JobId, dict[str, str]]:
        """The job and the full args named for `run`, in the job's params order.

        InvalidFields (paths `job_id`, `args.NAME`) when a template fails,
        the job is not loaded, or a param has no value.
        """
        renderer = Renderer(run, calendars)
        job_id = JobId(renderer.text(self.job_id, "job_id"))
        written = renderer.mapping(self.args, "args")
        renderer.done()
        params = params_of(job_id)
        if params is None:
            raise invalid(f"unknown job {job_id!r}; no such job is loaded").under("job_id")
        problems: list[tuple[tuple[str | int, ...], str]] = [
            (("args", name), f"job {job_id} has no param {name!r}; its params: {', '.join(params) or 'none'}")
            for name in written if name not in params]
        args = {}
        for name in params:
            value = written.get(name, run.args.get(name))
            if value is None:
                problems.append((("args",), f"no value for param {name!r} of job {job_id}: write it in args "
                                            f"({{{name}: ...}}), or give job {run.job_id} a param {name!r} to pass "
                                            "on"))
            else:
                args[name] = value
        if problems:
            raise InvalidFields(problems)
        return job_id, args
