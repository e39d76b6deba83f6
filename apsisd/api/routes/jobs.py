"""Reading jobs: the list of the jobs loaded."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from apsisd.api.state import scheduler_of

routes = web.RouteTableDef()


@routes.get("/api/v1/jobs")
async def jobs(request: web.Request) -> web.Response:
    loaded = scheduler_of(request).jobs.jobs
    return web.json_response({"jobs": [_job_jso(job_id, job) for job_id, job in sorted(loaded.items())]})


def _job_jso(job_id: str, job: Any) -> dict[str, Any]:
    return {"job_id": job_id, "params": list(job.params), "metadata": {
        "description": job.metadata.description, "labels": list(job.metadata.labels)}}
