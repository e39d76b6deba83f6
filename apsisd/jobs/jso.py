"""A job as JSON: the one shape every client sees (the API, `--json`, the live stream)."""
from __future__ import annotations

from typing import Any

from apsisd.jobs.model import Job


def job_jso(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, "params": list(job.params),
            "metadata": {"description": job.metadata.description, "labels": list(job.metadata.labels)}}
