"""Each loaded job's JSON text, made once per version of the job and level of secrets shown: the jobs list and
every live stream's snapshot send the same texts, and a folder of 10,000 jobs takes most of a second to turn into
JSON.

A reload makes new Job objects for the jobs it changed: a job's texts are
kept with the very object they were made from, and made again for a new
one. A job has two texts at most, one per Shown (an operator's, with env
values and webhook URLs; a reader's, without), each made when first asked.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from agentd.types import JobId
from apsisd.api.access import Principal
from apsisd.jobs.jso import Shown, job_jso
from apsisd.jobs.model import Job
from apsisd.rights import Right


def shown_to(principal: Principal) -> Shown:
    """What a caller is shown of the jobs' secrets: only those who may operate see env values and webhook URLs."""
    return Shown.READER if principal.right < Right.OPERATE else Shown.OPERATOR


class JobTexts:
    def __init__(self) -> None:
        self._texts: dict[JobId, tuple[Job, dict[Shown, str]]] = {}

    def of(self, job: Job, shown: Shown) -> str:
        """The job's JSON; safe from several threads at once (at worst a text is made twice)."""
        kept = self._texts.get(job.id)
        if kept is None or kept[0] is not job:
            kept = (job, {})
            self._texts[job.id] = kept
        text = kept[1].get(shown)
        if text is None:
            text = kept[1][shown] = json.dumps(job_jso(job, shown))
        return text

    def array(self, jobs: Iterable[Job], shown: Shown) -> str:
        """`[job, ...]` as JSON text. Off the event loop, please: one job at a time lets the loop run between."""
        return "[" + ", ".join(self.of(job, shown) for job in jobs) + "]"

    def forget_others(self, loaded: Iterable[JobId]) -> None:
        """Drop the texts of jobs no longer loaded (after a reload removed them)."""
        keep = set(loaded)
        for job_id in [job_id for job_id in self._texts if job_id not in keep]:
            self._texts.pop(job_id, None)
