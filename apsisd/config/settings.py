"""The table of apsisd.toml's settings: every key once, with its kind, default and meaning.

load.py reads the file by it, render.py writes etc/apsisd.toml and the table of docs/configuration.md from it
(tools/write_settings.py), and a test keeps those files equal to what it says. A new setting is one record here,
plus its Config field (load.py); a rule that ties keys of one table together is one check in CHECKS.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apsisd.config import kinds
from apsisd.config.api_limits import ApiLimits
from apsisd.config.listen import loopback
from apsisd.config.log_level import LogLevel
from apsisd.config.setting import Derived, Setting
from apsisd.fields import Fields
from apsisd.jobs.scheduling import DEFAULTS, Scheduling

_LIMITS = ApiLimits()
# The Config fields that several settings make together, one attribute each (Setting.field "schedule.horizon").
GROUPS: Mapping[str, Callable[..., Any]] = {"schedule": Scheduling, "api_limits": ApiLimits}

SETTINGS = (
    Setting(section=None, key="jobs_dir", kind=kinds.FOLDER,
            default=Derived(lambda owner, _: owner.config_folder() / "jobs",
                            "`/etc/apsis/jobs`; a user's: `$XDG_CONFIG_HOME/apsis/jobs` (`~/.config/apsis/jobs`)"),
            doc="The job files: one `NAME.yaml` per job, at any depth (the job id is the path without `.yaml`). "
                "`apsisd --jobs DIR` overrides it."),
    Setting(section=None, key="calendars_dir", kind=kinds.FOLDER,
            default=Derived(lambda _, settings: settings["jobs_dir"], "the jobs folder"),
            doc="A folder of holiday calendars (`NAME.calendar`, `NAME.calendar.yaml`) read besides those in the "
                "jobs folder, which are always read. `apsisd --calendars DIR` overrides it."),
    Setting(section=None, key="state_dir", kind=kinds.FOLDER,
            default=Derived(lambda owner, _: owner.state_folder(),
                            "`/var/lib/apsis`; a user's: `$XDG_STATE_HOME/apsis` (`~/.local/state/apsis`)"),
            doc="Where the runs are kept (the SQLite database). `apsisd --state DIR` overrides it."),
    Setting(section=None, key="log_level", kind=kinds.LOG_LEVEL, default=LogLevel.INFO,
            doc="The least severe messages written: `debug`, `info`, `warning`, `error` or `critical` (Python's "
                "levels). `apsisd --log-level LEVEL` overrides it."),

    Setting(section="schedule", key="horizon", kind=kinds.DURATION, default=DEFAULTS.horizon,
            field="schedule.horizon",
            doc="How far ahead runs are created, so a coming run can be seen, skipped or rerun before it is due. "
                "A job's `scheduling:` key may set its own, as it may the other keys of `[schedule]`."),
    Setting(section="schedule", key="max_scheduled", kind=kinds.RUN_COUNT, default=DEFAULTS.max_scheduled,
            field="schedule.max_scheduled",
            doc="At most this many future runs of each job at once: a job that runs every second does not fill "
                "the store with a day of runs."),
    Setting(section="schedule", key="catchup", kind=kinds.CATCHUP, default=DEFAULTS.catchup,
            field="schedule.catchup",
            doc="After apsisd was down, which missed runs are started late: `all`, `latest` (per job, the runs "
                "due at the newest missed instant) or `none`. The others are recorded as skipped, with the "
                "reason, so they can be seen and rerun."),
    Setting(section="schedule", key="max_age", kind=kinds.DURATION, default=DEFAULTS.max_age,
            field="schedule.max_age", unset="no limit", example='"6h"',
            doc="A missed run older than this is never started, whatever `catchup` says."),

    Setting(section="waiting", key="max_time", kind=kinds.DURATION, default=None,
            unset="a run waits as long as it takes", example='"1d"',
            doc="A run that has waited this long for its conditions (a dependency, a `max_running` limit) "
                "becomes an error, with the reason."),

    Setting(section="api", key="listen", kind=kinds.ADDRESSES,
            default=Derived(lambda owner, settings: (owner.socket(settings["state_dir"]),),
                            '`["unix:/run/apsis/api.sock"]`; a user\'s: `["unix:$XDG_RUNTIME_DIR/apsis/api.sock"]` '
                            "(without `$XDG_RUNTIME_DIR`: `api.sock` in the state folder)"),
            example='["unix:/run/apsis/api.sock", "tcp:127.0.0.1:5050"]',
            doc="Where the API (and so the `apsis` command) is served: a list (or one string) of `unix:/PATH` "
                "sockets and `tcp:HOST:PORT` addresses. A `tcp:` address needs `tokens`, and `tls_cert` and "
                "`tls_key` unless its host is a loopback one."),
    Setting(section="api", key="group", kind=kinds.GROUP,
            default=Derived(lambda owner, _: "apsis" if owner.privileged else None,
                            '`"apsis"` (the package makes the group); a user\'s: none, the socket is theirs alone'),
            doc="On the socket, root and the user apsisd runs as are admins; the members of this group may read "
                "and operate: run, start, stop, signal, skip, rerun and mark the runs of the loaded jobs, and "
                "reload (docs/api.md, Rights). That is running each job's program as the user its file names "
                "(root if none). Their own ad hoc runs (`apsis run --shell`) run as themselves."),
    Setting(section="api", key="admin_group", kind=kinds.GROUP, default=None,
            unset="only root and apsisd's own user are admins", example='"apsis-admin"',
            doc="The members of this group are admins too: besides operating, they may make ad hoc runs of any "
                "program as any user and group, which is being root."),
    Setting(section="api", key="others", kind=kinds.WHO_ELSE, default="none",
            doc='What anyone else on the socket may do: `"none"` (refused, 403) or `"read"` (look at jobs, runs '
                "and output, change nothing)."),
    Setting(section="api", key="adhoc_users", kind=kinds.USERS, default=None,
            unset="any user the caller's right allows", example='["batch"]',
            doc="The only users an ad hoc run may run as, whoever asks (admins too): the user its program names, "
                "or apsisd's own (root) when it names none; refused (403) unless listed. A `group:` must then be "
                "one the user is in. Names, not uids; `[]` forbids every ad hoc run."),
    Setting(section="api", key="tokens", kind=kinds.FILE, default=None,
            unset="no tokens, and no `tcp:` address may be listed", example='"/etc/apsis/api-tokens"',
            doc="The file of the TCP callers' bearer tokens, one per line, `NAME RIGHT sha256:HEX` (RIGHT read, "
                "operate or admin), hashes only (docs/api.md, Access). `apsis token new NAME` makes a token and "
                "prints its line. Required by a `tcp:` address. apsisd reads the file again when it changes: add "
                "or delete a line, no restart."),
    Setting(section="api", key="tls_cert", kind=kinds.FILE, default=None,
            unset="no TLS", example='"/etc/apsis/tls/cert.pem"',
            doc="The PEM certificate (with its chain) the `tcp:` addresses are served with; set with `tls_key`, "
                "or neither. A `tcp:` address other machines may reach needs them; only a loopback one "
                "(127.0.0.1, [::1], localhost: a reverse proxy on this machine) may go without. Read at start: "
                "restart apsisd after renewing it."),
    Setting(section="api", key="tls_key", kind=kinds.FILE, default=None,
            unset="no TLS", example='"/etc/apsis/tls/key.pem"',
            doc="The certificate's unencrypted PEM private key (readable by apsisd alone)."),
    Setting(section="api", key="max_connections_per_caller", kind=kinds.CAP,
            default=_LIMITS.max_connections_per_caller, field="api_limits.max_connections_per_caller",
            doc="Connections one caller may hold: a user on the socket, an address over TCP. One more is "
                "answered 429 and closed before any of it is read. Root and apsisd's own user are never counted."),
    Setting(section="api", key="max_connections", kind=kinds.CAP,
            default=_LIMITS.max_connections, field="api_limits.max_connections",
            doc="Connections all callers together may hold (root's and apsisd's user's not counted); one more is "
                "answered 503 and closed."),
    Setting(section="api", key="max_streams_per_caller", kind=kinds.CAP,
            default=_LIMITS.max_streams_per_caller, field="api_limits.max_streams_per_caller",
            doc="Answers that last (the live stream, a run's output, followed or not) one caller may have open: "
                "a user on the socket, a token over TCP. One more is answered 429."),
    Setting(section="api", key="max_streams", kind=kinds.CAP,
            default=_LIMITS.max_streams, field="api_limits.max_streams",
            doc="Such answers of all callers together; one more is answered 503."),
    Setting(section="api", key="idle_timeout", kind=kinds.DURATION,
            default=_LIMITS.idle_timeout, field="api_limits.idle_timeout",
            doc="A connection waiting this long between requests is closed; so is one whose client takes no part "
                "of an answer for this long."),
    Setting(section="api", key="request_timeout", kind=kinds.DURATION,
            default=_LIMITS.request_timeout, field="api_limits.request_timeout",
            doc="A request (head and body, and over TLS the handshake) must arrive whole this long after its "
                "first byte, or its connection is closed (408 for a late body)."),

    Setting(section="web", key="session_lifetime", kind=kinds.DURATION, default=12 * 3600.0,
            doc="How long a browser stays signed in to the web page after signing in with a token (docs/web.md, "
                "Signing in); then it signs in again. Sessions outlive a restart of apsisd; deleting a token's "
                "line from the tokens file ends its sessions at once."),
    Setting(section="web", key="origin", kind=kinds.ORIGIN, default=None,
            unset="the address each request names (its Host), as apsisd serves it", example='"https://apsis.example.com"',
            doc="The address browsers open the page at when a reverse proxy serves it for apsisd (docs/web.md, "
                "Signing in): a form or action whose `Origin` is this is apsisd's own, and with `https:` the "
                "session cookie is marked Secure, though the proxy speaks plain HTTP to apsisd."),

    Setting(section="reload", key="watch", kind=kinds.BOOLEAN, default=True,
            doc="Whether changes in the jobs and calendars folders reload the jobs. Turn it off where the folder "
                "is on a network file system (inotify does not see changes made on other machines) or when a "
                "deployment should only take effect on `systemctl reload apsisd` (SIGHUP), which always works."),
    Setting(section="reload", key="debounce", kind=kinds.DURATION, default=0.5,
            doc="Changes are loaded once the folders have been quiet this long, so a copy still under way is not "
                "loaded half done..."),
    Setting(section="reload", key="max_delay", kind=kinds.DURATION, default=10.0,
            doc="...but at the latest this long after the first change, so a folder that never stops changing "
                "is still reloaded. At least as long as `debounce`."),

    Setting(section="metrics", key="per_job_limit", kind=kinds.JOB_COUNT, default=100,
            doc="`GET /metrics` has series of each job's own (label `job_id`) while at most this many jobs are "
                "loaded; with more, only the totals (each job adds up to some 60 series to what Prometheus "
                "stores; docs/api.md). `0`: never."),

    Setting(section="ssh", key="known_hosts", kind=kinds.FILE,
            default=Derived(lambda _, settings: settings["state_dir"] / "known_hosts",
                            "`known_hosts` in the state folder"),
            doc="apsisd's own known_hosts file: the remote hosts' keys, the only ones ssh accepts for them "
                "(`StrictHostKeyChecking=yes`; the user's and the system's files are not read). Add a host's key "
                "before its first connection (docs/hosts.md); a changed key is refused, naming the host."),
)


def setting(section: str | None, key: str) -> Setting:
    """The record of `key` in `[section]`."""
    return next(found for found in SETTINGS if (found.section, found.key) == (section, key))


def _tls_both_or_neither(table: Fields, values: Mapping[str, Any]) -> None:
    for key, other in (("tls_cert", "tls_key"), ("tls_key", "tls_cert")):
        if key in table and other not in table:
            table.problems.append(((key,), f"is set without {other}; set both (the certificate and its private "
                                           "key) or neither"))


def _tcp_secured(table: Fields, values: Mapping[str, Any]) -> None:
    """A TCP address needs bearer tokens, and TLS unless only this machine can reach it."""
    bare = not isinstance(table.raw("listen"), list)
    for index, address in enumerate(values["listen"] or ()):
        if not address.startswith("tcp:"):
            continue
        where: tuple[str | int, ...] = ("listen",) if bare else ("listen", index)
        if "tokens" not in table:
            table.problems.append((where, f"{address}: TCP needs bearer tokens: set tokens to the tokens file "
                                          "(apsis token new makes a token and its line)"))
        host = address.removeprefix("tcp:").rpartition(":")[0]
        if not loopback(host) and not ("tls_cert" in table and "tls_key" in table):
            table.problems.append((where, f"{address}: other machines may reach it: set tls_cert and tls_key (only "
                                          "a loopback address, 127.0.0.1, ::1 or localhost, may go without TLS)"))


def _max_delay_not_below_debounce(table: Fields, values: Mapping[str, Any]) -> None:
    debounce = values["debounce"] or setting("reload", "debounce").default
    max_delay = values["max_delay"] or setting("reload", "max_delay").default
    if max_delay < debounce:
        table.problems.append((("max_delay",), f"is {max_delay:g}s, shorter than debounce ({debounce:g}s); "
                               "make it at least as long"))


# The rules that tie keys of one table together: check(table, its values by key, None where not set or wrong),
# adding problems to the table's. They run after each key's own reading, so their problems come after its.
CHECKS: Mapping[str | None, tuple[Callable[[Fields, Mapping[str, Any]], None], ...]] = {
    "api": (_tls_both_or_neither, _tcp_secured),
    "reload": (_max_delay_not_below_debounce,),
}
