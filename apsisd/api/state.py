"""What the API's handlers reach: the scheduler, the daemon's reload, the metrics, and who may do what; one key on
the app (api/keys.py)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from aiohttp import web

from apsisd.api.access import Policy
from apsisd.api.job_texts import JobTexts
from apsisd.api.keys import app_key, request_key
from apsisd.api.sessions import SessionStore
from apsisd.api.stream_slots import StreamSlots
from apsisd.api.tokens import TokenStore
from apsisd.config.api_limits import ApiLimits
from apsisd.scheduler.metrics import RunMetrics
from apsisd.scheduler.reload import ReloadResult
from apsisd.scheduler.service import Scheduler

STARTED = request_key("apsis.started", float)  # when the request began (perf_counter), for Server-Timing
Reload = Callable[..., Awaitable[ReloadResult]]  # reload(dry_run=False): the daemon's, which logs and notifies


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiState:
    scheduler: Scheduler
    reload: Reload
    policy: Policy
    started: datetime  # when apsisd started, for the health report
    metrics: RunMetrics
    lasting: set[asyncio.Task[Any]] = field(default_factory=set)  # handlers of answers that last (api/lasting.py)
    job_texts: JobTexts = field(default_factory=JobTexts)
    tokens: TokenStore | None = None  # the TCP callers' tokens; None: no tokens file, every TCP caller refused
    limits: ApiLimits = field(default_factory=ApiLimits)
    streams: StreamSlots = field(default_factory=StreamSlots)  # the answers that last, counted against limits
    sessions: SessionStore | None = None  # the web page's signed-in browsers; None: no sign-in (no tokens file)
    origin: str | None = None  # [web] origin: where browsers open the page, when a reverse proxy serves it


KEY = app_key("apsis", ApiState)


def attach(app: web.Application, state: ApiState) -> None:
    app[KEY] = state


def state_of(request: web.Request) -> ApiState:
    return cast(ApiState, request.app[KEY])


def scheduler_of(request: web.Request) -> Scheduler:
    return state_of(request).scheduler
