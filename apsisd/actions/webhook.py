"""`webhook`: POST the run as JSON to a URL when it enters one of the action's states.

    action:
      type: webhook
      url: "https://hooks.example.com/apsis/{{ job_id }}"    # http or https; templated with the run's args
      headers: {Authorization: "Bearer s3cr3t"}             # optional
      timeout: 10s        # each attempt; default 10 s
      retries: 3          # after the first attempt; default 3
      retry_delay: 1s     # before the first retry, doubling after each; default 1 s
      if: {states: [failure, error]}

The body is the run as the API shows it, plus `"event"`: the state the run
entered. A non-2xx answer, an error or a timeout is retried; when the last
attempt fails, the run's log says so. The run's state never changes and
nothing is raised to the scheduler. Header values are never written
anywhere (they hold tokens), and the log names the URL by its scheme, host
and port only, since paths and queries of webhook URLs often hold tokens
too; an error's text is scrubbed of the URL the same way (aiohttp quotes
a URL it refuses whole, user:password@ and ?query included).

The API shows the action as written, less its secrets (redacted()):
header values to no one, and to callers who may only read, the URL as
logs name it (scheme, host and port: Slack's and Discord's webhook URLs
hold their token in the path).
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlsplit

from apsisd.actions.base import ActionContext
from apsisd.errors import InvalidFields, invalid
from apsisd.fields import Fields, integer, string, string_map
from apsisd.jobs.rendering import Renderer, in_words
from apsisd.jobs.templates import has_template
from apsisd.quantities import parse_duration
from apsisd.runs.model import EMPTY, Run
from apsisd.runs.state import FINISHED, State

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
MAX_RETRIES = 100
HIDDEN = "(hidden)"  # what the API shows in place of a secret value
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
URL_WANTED = "must be an http:// or https:// URL with a host, such as https://hooks.example.com/apsis"


def is_url(text: str) -> bool:
    """An http:// or https:// URL with a host."""
    try:
        parts = urlsplit(text)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:  # a broken [IPv6] host
        return False
    return scheme in ("http", "https") and bool(host) and not any(char.isspace() for char in text)


def check_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """HTTP header names, and values on one line; messages never quote a value (it may be a token)."""
    problems: list[tuple[tuple[str | int, ...], str]] = [
        ((name,), "is not an HTTP header name; use letters, digits and -, such as Authorization or X-Token")
        for name in headers if not HEADER_NAME.match(name)]
    problems.extend(((name,), "must be one line (no line breaks)")
                    for name, value in headers.items() if "\r" in value or "\n" in value)
    if problems:
        raise InvalidFields(problems)
    return MappingProxyType(dict(headers))


def shown(url: str) -> str:
    """The URL as logs name it: scheme, host and port, the rest elided."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a URL that does not parse)"
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return origin + "/..." if parts.path.strip("/") or parts.query else origin


def scrubbed(text: str, url: str) -> str:
    """An error's text fit for a log: every URL in it as shown() names it, and the secret parts of `url` (its
    user:password and query) wherever else they appear."""
    text = URL_IN_TEXT.sub(lambda match: shown(match.group()), text)
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    secrets = [parts.netloc.rpartition("@")[0], parts.query, parts.fragment, parts.password or ""]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "...")
    return text


def redacted(written: dict[str, Any], *, full_url: bool) -> dict[str, Any]:
    """A webhook action as its file wrote it, its secrets hidden: every header's value, and unless `full_url`
    all of the URL but its origin (as logs name it: Slack and Discord keep the token in the path). `written` is
    the caller's to change."""
    headers = written.get("headers")
    if isinstance(headers, dict):
        written["headers"] = {name: HIDDEN for name in headers}
    elif headers is not None:
        written["headers"] = HIDDEN
    url = written.get("url")
    if not full_url and url is not None:
        written["url"] = shown(url) if isinstance(url, str) else HIDDEN
    return written


def _url(value: Any) -> str:
    text = string(value)
    if has_template(text) or is_url(text):
        return text
    if "://" in text:  # scrubbed: the problem is logged
        raise invalid(f"{URL_WANTED}, not {scrubbed(text, text)!r}")
    raise invalid(f"{URL_WANTED}; this one has no scheme (it is not quoted: it may hold a token)")


def _headers(value: Any) -> Mapping[str, str]:
    headers = string_map(value)
    check_headers({name: "" if has_template(text) else text for name, text in headers.items()})
    return MappingProxyType(headers)


def _timeout(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise invalid("must be a duration above zero, such as 10s or 1m")
    return seconds


def _retries(value: Any) -> int:
    count = integer(value)
    if not 0 <= count <= MAX_RETRIES:
        raise invalid(f"must be a whole number from 0 (one attempt only) to {MAX_RETRIES}, not {count}")
    return count


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    type_name: ClassVar[str] = "webhook"
    url: str
    headers: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    timeout: float = 10.0
    retries: int = 3
    retry_delay: float = 1.0
    states: frozenset[State] = FINISHED

    @classmethod
    def parse(cls, fields: Fields) -> Webhook:
        parsed = cls(url=fields.take("url", _url), headers=fields.take("headers", _headers, EMPTY),
                     timeout=fields.take("timeout", _timeout, 10.0), retries=fields.take("retries", _retries, 3),
                     retry_delay=fields.take("retry_delay", parse_duration, 1.0))
        fields.done()
        return parsed

    def pauses(self) -> list[float]:
        """Seconds waited before each retry: retry_delay, then twice as long each time."""
        return [self.retry_delay * 2**index for index in range(self.retries)]

    async def __call__(self, run: Run, context: ActionContext) -> None:
        try:
            url, headers = self._rendered(run, context)
        except InvalidFields as exc:
            await context.note(run.id, f"webhook: not sent: {in_words(exc)}")
            return
        body = {**context.run_json(run), "event": str(run.state)}
        problem = await self._post(context, url, body, headers)
        for pause in self.pauses():
            if problem is None:
                return
            await asyncio.sleep(pause)
            problem = await self._post(context, url, body, headers)
        if problem is not None:
            attempts = self.retries + 1
            await context.note(run.id, f"webhook {shown(url)} failed after {attempts} "
                                       f"{'attempt' if attempts == 1 else 'attempts'}: {problem}")

    def _rendered(self, run: Run, context: ActionContext) -> tuple[str, Mapping[str, str]]:
        """The URL and headers for `run`; InvalidFields if a template fails or gives a value its field refuses
        (without quoting it: it may hold a token)."""
        renderer = Renderer(run, context.calendars)
        url = renderer.text(self.url, "url")
        headers = renderer.mapping(self.headers, "headers")
        renderer.done()
        if not is_url(url):
            raise invalid(URL_WANTED).under("url")
        try:
            return url, check_headers(headers)
        except InvalidFields as exc:
            raise exc.under("headers") from None

    async def _post(self, context: ActionContext, url: str, body: Any, headers: Mapping[str, str]) -> str | None:
        """One attempt: None when the answer is 2xx, else what went wrong."""
        try:
            async with asyncio.timeout(self.timeout):
                status = await context.post_json(url, body, headers=headers)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as exc:  # OSError by contract; anything else is retried and reported alike
            return scrubbed(f"{type(exc).__name__}: {exc}", url)
        return None if 200 <= status < 300 else f"HTTP {status}"
