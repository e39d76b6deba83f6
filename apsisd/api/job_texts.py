"""Each loaded job's JSON text, made once per version of the job: the jobs list and every live stream's snapshot
send the same texts, and a folder of 10,000 jobs takes most of a second to turn into JSON.

A reload makes new Job objects for the jobs it changed: a text is kept with
the very object it was made from, and made again for a new one.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from apsisd.jobs.jso import job_jso
from apsisd.jobs.model import Job
from apsisd.types import JobId


class JobTexts:
    def __init__(self) -> None:
        self._texts: dict[JobId, tuple[Job, str]] = {}

    def of(self, job: Job) -> str:
        """The job's JSON; safe from several threads at once (at worst a text is made twice)."""
        kept = self._texts.get(job.id)
        if kept is None or kept[0] is not job:
            kept = (job, json.dumps(job_jso(job)))
            self._texts[job.id] = kept
        return kept[1]

    def array(self, jobs: Iterable[Job]) -> str:
        """`[job, ...]` as JSON text. Off the event loop, please: one job at a time lets the loop run between."""
        return "[" + ", ".join(self.of(job) for job in jobs) + "]"

    def forget_others(self, loaded: Iterable[JobId]) -> None:
        """Drop the texts of jobs no longer loaded (after a reload removed them)."""
        keep = set(loaded)
        for job_id in [job_id for job_id in self._texts if job_id not in keep]:
            self._texts.pop(job_id, None)
