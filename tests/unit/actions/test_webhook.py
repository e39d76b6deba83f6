"""webhook: the run as JSON with the event, retried on non-2xx, errors and timeouts; failures only noted."""
from __future__ import annotations

import pytest
from fake_action_context import FakeContext, awaited, make_run

from apsisd.actions.registry import parse_action
from apsisd.actions.webhook import URL_WANTED, Webhook, redacted, scrubbed, shown
from apsisd.errors import InvalidFields
from apsisd.runs.state import State

URL = "https://hooks.example.com/services/T0/B0/s3cr3t?token=abc"


def webhook(**fields: object) -> Webhook:
    parsed = parse_action({"type": "webhook", "retry_delay": 0, **fields})
    assert isinstance(parsed, Webhook)
    return parsed


def test_defaults() -> None:
    parsed = parse_action({"type": "webhook", "url": URL})
    assert parsed == Webhook(url=URL, timeout=10.0, retries=3, retry_delay=1.0)
    assert parsed.pauses() == [1.0, 2.0, 4.0]  # type: ignore[attr-defined]


def test_the_run_is_posted_with_the_state_it_entered_url_and_headers_rendered() -> None:
    context = FakeContext()
    run = make_run(7, "etl/load", State.FAILURE, date="2026-03-02")
    action = webhook(url="https://hooks.example.com/{{ job_id }}?d={{ date }}", headers={"X-Run": "{{ run_id }}"})
    awaited(action(run, context))
    assert context.posts == [("https://hooks.example.com/etl/load?d=2026-03-02",
                              {"run_id": "r7", "job_id": "etl/load", "args": {"date": "2026-03-02"},
                               "state": "failure", "event": "failure"},
                              {"X-Run": "r7"})]
    assert context.notes == []


def test_a_failed_attempt_is_retried_and_a_later_success_says_nothing() -> None:
    context = FakeContext(answers=[500, ConnectionRefusedError(111, "Connection refused"), 204])
    awaited(webhook(url=URL)(make_run(7), context))
    assert len(context.posts) == 3
    assert context.notes == []


@pytest.mark.parametrize(("answers", "problem"), [
    ([503] * 4, "HTTP 503"),
    ([OSError("network is unreachable")] * 4, "OSError: network is unreachable"),
    ([500, 500, 500, "hang"], "no answer within 0.01 s"),
])
def test_after_the_last_attempt_the_failure_is_noted_without_secrets(answers: list, problem: str) -> None:
    context = FakeContext(answers=answers)
    awaited(webhook(url=URL, timeout="0.01", headers={"Authorization": "Bearer t0k3n"})(make_run(7), context))
    assert len(context.posts) == 4
    assert context.notes == [("r7", f"webhook https://hooks.example.com/... failed after 4 attempts: {problem}")]
    assert "t0k3n" not in repr(context.notes) and "s3cr3t" not in repr(context.notes)


def test_retries_zero_is_one_attempt() -> None:
    context = FakeContext(answers=[302])
    awaited(webhook(url=URL, retries=0)(make_run(7), context))
    assert context.notes == [("r7", "webhook https://hooks.example.com/... failed after 1 attempt: HTTP 302")]


def test_a_url_or_header_that_renders_wrong_is_noted_unquoted_and_nothing_is_sent() -> None:
    context = FakeContext()
    run = make_run(7, target="ftp://files.example.com/s3cr3t", token="a\nb")
    awaited(webhook(url="{{ target }}")(run, context))
    awaited(webhook(url=URL, headers={"X-Token": "{{ token }}"})(run, context))
    awaited(webhook(url="{{ nope }}")(run, context))
    assert context.posts == []
    assert context.notes == [
        ("r7", "webhook: not sent: url: must be an http:// or https:// URL with a host, such as "
               "https://hooks.example.com/apsis"),
        ("r7", "webhook: not sent: headers.X-Token: must be one line (no line breaks)"),
        ("r7", "webhook: not sent: url: template: 'nope' is undefined"),
    ]


def test_urls_are_shown_by_their_origin() -> None:
    assert shown("https://user:pw@hooks.example.com:8443/a/b?c=d") == "https://hooks.example.com:8443/..."
    assert shown("http://hooks.example.com/") == "http://hooks.example.com"


def test_an_error_that_quotes_the_url_is_noted_without_its_userinfo_query_or_path() -> None:
    """aiohttp's InvalidURL is the URL itself, user:password@ and ?query included."""
    url = "https://bot:pa55@hooks.example.com:99999/services/s3cr3t?token=t0k3n"
    context = FakeContext(answers=[OSError(f"InvalidURL: {url}")])
    awaited(webhook(url=url, retries=0)(make_run(7), context))
    assert context.notes == [("r7", "webhook https://hooks.example.com:99999/... failed after 1 attempt: "
                                    "OSError: InvalidURL: https://hooks.example.com:99999/...")]


def test_scrubbed_hides_every_url_and_the_secret_parts_of_the_webhooks() -> None:
    url = "http://bot:pa55@127.0.0.1:9/x?token=t0k3n"
    text = f"Cannot connect to URL('{url}'), bot:pa55 refused (token=t0k3n)"
    assert scrubbed(text, url) == "Cannot connect to URL('http://127.0.0.1:9/...'), ... refused (...)"
    assert scrubbed("Connection refused", url) == "Connection refused"


def test_a_reader_is_shown_a_webhooks_origin_only() -> None:
    """Slack and Discord keep a webhook's token in its path: a reader sees no more than the log names."""
    written = {"type": "webhook", "url": "https://user:pw@hooks.slack.com:8443/services/T0/B0/s3cr3t?c=d#e",
               "headers": {"X-Token": "t"}}
    assert redacted(dict(written), full_url=False) == {
        "type": "webhook", "url": "https://hooks.slack.com:8443/...", "headers": {"X-Token": "(hidden)"}}
    assert redacted(dict(written), full_url=True)["url"] == written["url"]
    assert redacted({"url": "http://[::1"}, full_url=False)["url"] == "(a URL that does not parse)"


def test_a_url_refused_at_load_is_quoted_without_its_secrets() -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_action({"type": "webhook", "url": "ftp://bot:pa55@files.example.com/s3cr3t?token=t0k3n"})
    with pytest.raises(InvalidFields) as no_scheme:
        parse_action({"type": "webhook", "url": "hooks.example.com/x?token=t0k3n"})
    assert [str(caught.value), str(no_scheme.value)] == [
        f"url: {URL_WANTED}, not 'ftp://files.example.com/...'",
        f"url: {URL_WANTED}; this one has no scheme (it is not quoted: it may hold a token)"]
