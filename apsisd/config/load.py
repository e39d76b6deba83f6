"""apsisd.toml: where the jobs and the state are, how far ahead to schedule, where the API listens, how many jobs
get metrics of their own.

Every key is optional; a missing default file means all defaults, so
`apsisd --jobs DIR --state DIR` alone is a working daemon. Root uses
/etc/apsis and /var/lib/apsis; anyone else their XDG folders, as their own
`systemd --user` manager runs their jobs. The file is checked whole: every
unknown key and bad value is reported at once, each as FILE:LINE.
"""
from __future__ import annotations

import enum
import ipaddress
import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from apsisd.config.api_limits import ApiLimits
from apsisd.config.toml_lines import key_lines, line_of
from apsisd.errors import ApsisError, FileProblem, InvalidFields, InvalidFiles, format_path, invalid
from apsisd.fields import Fields, boolean, describe, each
from apsisd.jobs.scheduling import DEFAULTS, Scheduling, positive_duration, read_scheduling

T = TypeVar("T")
SYSTEM_CONFIG = Path("/etc/apsis")
SYSTEM_STATE = Path("/var/lib/apsis")
SYSTEM_SOCKET = "unix:/run/apsis/api.sock"
CONFIG_NAME = "apsisd.toml"
LISTEN_HELP = "write unix:/PATH or tcp:HOST:PORT, such as unix:/run/apsis/api.sock or tcp:127.0.0.1:5050"
# Changes to the jobs folder are loaded once they have stopped for half a second (an editor's save, a cp -r), or
# 10 s after the first of them however busy the folder stays.
RELOAD_DEBOUNCE = 0.5
RELOAD_MAX_DELAY = 10.0
API_GROUP = "apsis"  # its members (with root and apsisd's own user) may operate through the API's socket
OTHERS = ("none", "read")  # what anyone else on the socket may do
# GET /metrics has series per job while at most this many jobs are loaded (each job adds up to some 60 series).
PER_JOB_LIMIT = 100
SOCKET_PATH_MAX = 107  # bytes in sockaddr_un.sun_path, less the final NUL
MAX_FILE = 1 << 20  # bytes of the configuration file: it is a few dozen lines
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*", re.ASCII)
_POSITION = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")


class ConfigError(ApsisError):
    """The configuration cannot be used: its file is missing or unreadable, or the environment is wrong."""


class LogLevel(enum.StrEnum):
    """The least severe messages apsisd writes; Python's levels, by name."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def number(self) -> int:
        """The level as the logging module counts it."""
        return logging.getLevelNamesMapping()[self.name]


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything apsisd.toml sets, defaults filled in; paths absolute.

    `calendars_dir` is read besides the holiday calendars of `jobs_dir`
    (which are always read); it defaults to the jobs folder itself.
    `waiting_max_time` None: a run may wait for its conditions forever.
    `api_group`: the operators' group on the API's socket; `api_admin_group`:
    the admins' (None: root and apsisd's user only); `api_others`: "read"
    lets anyone else on the socket read, "none" refuses them;
    `api_adhoc_users`: the only users ad hoc runs may run as (None: any).
    `api_tokens`: the file of the TCP callers' tokens (api/tokens.py);
    `api_tls_cert`, `api_tls_key`: the TLS certificate and key of every TCP
    address (both or neither; only loopback addresses may go without).
    `api_limits`: how many connections and streams callers may hold, and how
    long a connection may idle or take to send a request (api/limits.py).
    `reload_*`: the jobs folder is watched (unless `reload_watch` is false)
    and reloaded once changes have stopped for `reload_debounce` seconds, or
    at the latest `reload_max_delay` seconds after the first of them: a copy
    still under way is not loaded half done, and a folder that never stops
    changing is still reloaded. `metrics_per_job_limit`: GET /metrics has
    series per job while at most this many jobs are loaded (0: never).
    """

    file: Path | None  # the file read; None when there was none and all are defaults
    jobs_dir: Path
    calendars_dir: Path
    state_dir: Path
    log_level: LogLevel
    schedule: Scheduling
    waiting_max_time: float | None
    api_listen: tuple[str, ...]
    api_group: str
    api_admin_group: str | None
    api_others: str
    api_adhoc_users: frozenset[str] | None
    api_tokens: Path | None
    api_tls_cert: Path | None
    api_tls_key: Path | None
    api_limits: ApiLimits
    reload_watch: bool
    reload_debounce: float
    reload_max_delay: float
    metrics_per_job_limit: int

    def calendar_folders(self) -> tuple[Path, ...]:
        """The calendar folders to read besides the jobs folder (load_jobs's `calendar_folders`)."""
        return () if self.calendars_dir == self.jobs_dir else (self.calendars_dir,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Overrides:
    """What the command line sets over the file (`apsisd --jobs DIR --state DIR ...`); relative to the
    current folder."""

    jobs_dir: Path | None = None
    calendars_dir: Path | None = None
    state_dir: Path | None = None
    log_level: LogLevel | None = None


def _config_folder(*, privileged: bool, env: Mapping[str, str]) -> Path:
    """/etc/apsis as root; $XDG_CONFIG_HOME/apsis (~/.config/apsis) for anyone else."""
    return SYSTEM_CONFIG if privileged else _xdg(env, "XDG_CONFIG_HOME", ".config") / "apsis"


def load_config(path: Path | None, *, privileged: bool, env: Mapping[str, str],
                overrides: Overrides = Overrides()) -> Config:
    """The configuration from `path` (None: the default file, if there is one), with `overrides` on top.

    Raises ConfigError if `path` is given and missing, or any file cannot be
    read; InvalidFiles with every problem (FILE:LINE: key: message) if its
    TOML or any of its keys is wrong.
    """
    folder = _config_folder(privileged=privileged, env=env)
    file = (folder / CONFIG_NAME) if path is None else path.absolute()
    found = path is not None or file.exists()
    # Config's fields by name: the defaults that depend on nothing else, what the file says, the command line.
    settings: dict[str, Any] = {
        "jobs_dir": folder / "jobs", "state_dir": _default_state(privileged, env), "log_level": LogLevel.INFO,
        "schedule": Scheduling(), "waiting_max_time": None,
        "reload_watch": True, "reload_debounce": RELOAD_DEBOUNCE, "reload_max_delay": RELOAD_MAX_DELAY,
        "api_group": API_GROUP, "api_admin_group": None, "api_others": "none", "api_adhoc_users": None,
        "api_tokens": None, "api_tls_cert": None, "api_tls_key": None, "api_limits": ApiLimits(),
        "metrics_per_job_limit": PER_JOB_LIMIT,
        **(_read_file(file) if found else {}),
        **{name: getattr(overrides, name) for name in Overrides.__dataclass_fields__
           if getattr(overrides, name) is not None},
    }
    jobs_dir = settings["jobs_dir"] = settings["jobs_dir"].absolute()
    state_dir = settings["state_dir"] = settings["state_dir"].absolute()
    settings["calendars_dir"] = settings.get("calendars_dir", jobs_dir).absolute()
    settings.setdefault("api_listen", (_default_socket(privileged, env, state_dir),))
    settings["schedule"] = settings["schedule"].over(DEFAULTS)
    return Config(file=file if found else None, **settings)


def _xdg(env: Mapping[str, str], name: str, fallback: str) -> Path:
    """An XDG base folder: $name if absolute (the spec says to ignore a relative one), else ~/fallback."""
    value = env.get(name, "")
    if os.path.isabs(value):
        return Path(value)
    home = env.get("HOME", "")
    return (Path(home) if os.path.isabs(home) else Path.home()) / fallback


def _default_state(privileged: bool, env: Mapping[str, str]) -> Path:
    return SYSTEM_STATE if privileged else _xdg(env, "XDG_STATE_HOME", ".local/state") / "apsis"


def _default_socket(privileged: bool, env: Mapping[str, str], state_dir: Path) -> str:
    """The API's socket: in /run/apsis as root, in the user's runtime folder otherwise (or, without one, in the
    state folder)."""
    if privileged:
        return SYSTEM_SOCKET
    runtime = env.get("XDG_RUNTIME_DIR", "")
    return f"unix:{Path(runtime) / 'apsis' if os.path.isabs(runtime) else state_dir}/api.sock"


def _read_file(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            raise ConfigError(f"{file}: larger than {MAX_FILE >> 20} MiB, the most a configuration file may be")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file; give an existing file to --config, or leave "
                          "--config out to use the default one") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the configuration: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: the configuration is not UTF-8 text (byte {exc.start})") from None
    try:
        settings = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidFiles([_syntax_problem(file, text, str(exc))]) from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and inline tables
        raise InvalidFiles([FileProblem(str(file), 1, "", "not valid TOML: arrays or tables nested too deeply "
                                        "to read; a configuration needs two levels")]) from None
    try:
        return _read_settings(settings, file.parent)
    except InvalidFields as exc:
        lines = key_lines(text)
        problems = [FileProblem(str(file), line_of(lines, path), format_path(path), message)
                    for path, message in exc.problems]
        raise InvalidFiles(sorted(problems, key=lambda problem: problem.line)) from None


def _syntax_problem(file: Path, text: str, message: str) -> FileProblem:
    """tomllib's `Invalid value (at line 3, column 9)` as FILE:3: not valid TOML: Invalid value (column 9)."""
    found = _POSITION.search(message)
    if found is None:
        return FileProblem(str(file), 1, "", f"not valid TOML: {message}")
    line, column = found.groups()
    where = f" (column {column})" if column else " (at the end of the file)"
    return FileProblem(str(file), int(line) if line else max(1, len(text.splitlines())), "",
                       f"not valid TOML: {message[:found.start()]}{where}")


def _read_settings(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Config's fields the file sets, by name; every problem collected (InvalidFields, paths from the top)."""
    fields = Fields(data)
    folder = _path(base, "folder")
    settings = {
        "jobs_dir": fields.take("jobs_dir", folder, None),
        "calendars_dir": fields.take("calendars_dir", folder, None),
        "state_dir": fields.take("state_dir", folder, None),
        "log_level": fields.take("log_level", _log_level, None),
        "schedule": fields.take("schedule", _table(read_scheduling), None),
        **fields.take("waiting", _table(lambda table: {
            "waiting_max_time": table.take("max_time", positive_duration, None)}), {}),
        **fields.take("api", _table(lambda table: _read_api(table, base)), {}),
        **fields.take("reload", _table(_read_reload), {}),
        **fields.take("metrics", _table(lambda table: {
            "metrics_per_job_limit": table.take("per_job_limit", _job_count, None)}), {}),
    }
    fields.done()
    return {name: value for name, value in settings.items() if value is not None}


def _read_api(table: Fields, base: Path) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "api_listen": table.take("listen", _listen(base), None),
        "api_group": table.take("group", _group_name, None),
        "api_admin_group": table.take("admin_group", _group_name, None),
        "api_others": table.take("others", _others, None),
        "api_adhoc_users": table.take("adhoc_users", lambda value: frozenset(each(_user_name)(value)), None),
        "api_tokens": table.take("tokens", _path(base, "file"), None),
        "api_tls_cert": table.take("tls_cert", _path(base, "file"), None),
        "api_tls_key": table.take("tls_key", _path(base, "file"), None),
        "api_limits": _limits(table),
    }
    for key, other in (("tls_cert", "tls_key"), ("tls_key", "tls_cert")):
        if key in table and other not in table:
            table.problems.append(((key,), f"is set without {other}; set both (the certificate and its private "
                                           "key) or neither"))
    listen = table.raw("listen")
    for index, address in enumerate(settings["api_listen"] or ()):
        where = ("listen", index) if isinstance(listen, list) else ("listen",)
        if address.startswith("tcp:"):
            table.problems.extend((where, problem) for problem in _tcp_problems(address, table))
    return settings


def _tcp_problems(address: str, table: Fields) -> list[str]:
    """A TCP address needs bearer tokens, and TLS unless only this machine can reach it."""
    problems = []
    if "tokens" not in table:
        problems.append(f"{address}: TCP needs bearer tokens: set tokens to the tokens file (apsis token new "
                        "makes a token and its line)")
    host = address.removeprefix("tcp:").rpartition(":")[0]
    if not loopback(host) and not ("tls_cert" in table and "tls_key" in table):
        problems.append(f"{address}: other machines may reach it: set tls_cert and tls_key (only a loopback "
                        "address, 127.0.0.1, ::1 or localhost, may go without TLS)")
    return problems


def loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine's loopback: only then may a token go in clear."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def _limits(table: Fields) -> ApiLimits | None:
    """[api]'s caps and timeouts, by ApiLimits's names (max_connections, idle_timeout, ...); None: none set."""
    given: dict[str, Any] = {name: table.take(name, positive_duration if name.endswith("_timeout") else _cap, None)
             for name in ApiLimits.__dataclass_fields__}
    given = {name: value for name, value in given.items() if value is not None}
    return ApiLimits(**given) if given else None


def _cap(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"must be a whole number, 1 or more, not {describe(value)}")
    return value


def _group_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value or ":" in value:
        raise invalid(f"must be the name of a group, such as apsis, not {describe(value)}")
    return value.strip()


def _user_name(value: Any) -> str:
    """One of [api] adhoc_users: a name, as systemd's User= would not take an all-digits one for a name."""
    if not isinstance(value, str) or not value.strip() or "\0" in value or ":" in value or value.strip().isdigit():
        raise invalid(f"must be a user's name (not a uid), such as batch, not {describe(value)}")
    return value.strip()


def _others(value: Any) -> str:
    if value not in OTHERS:
        raise invalid(f"must be one of {', '.join(repr(choice) for choice in OTHERS)}, not {describe(value)}")
    return str(value)


def _job_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"must be a whole number of jobs, 0 or more, not {describe(value)}")
    return value


def _read_reload(table: Fields) -> dict[str, Any]:
    settings = {
        "reload_watch": table.take("watch", boolean, None),
        "reload_debounce": table.take("debounce", positive_duration, None),
        "reload_max_delay": table.take("max_delay", positive_duration, None),
    }
    debounce = settings["reload_debounce"] or RELOAD_DEBOUNCE
    max_delay = settings["reload_max_delay"] or RELOAD_MAX_DELAY
    if max_delay < debounce:
        table.problems.append((("max_delay",), f"is {max_delay:g}s, shorter than debounce ({debounce:g}s); "
                               "make it at least as long"))
    return settings


def _table(read: Callable[[Fields], T]) -> Callable[[Any], T]:
    """A parser for a [table] whose keys `read` takes; its unknown keys are problems too."""

    def parse(value: Any) -> T:
        if not isinstance(value, dict):
            raise invalid(f"must be a table of keys, not {describe(value)}")
        table = Fields(value)
        result = read(table)
        table.done()
        return result

    return parse


def _path(base: Path, kind: str) -> Callable[[Any], Path]:
    """A parser for the path of a `kind` ("file", "folder"), taken from `base` when relative."""

    def parse(value: Any) -> Path:
        if not isinstance(value, str) or not value or "\0" in value:
            raise invalid(f"must be the path of a {kind}, as a string, not {describe(value)}")
        return base / value

    return parse


def _log_level(value: Any) -> LogLevel:
    try:
        return LogLevel(value)
    except ValueError:
        raise invalid(f"must be one of {', '.join(LogLevel)}, not {describe(value)}") from None


def _listen(base: Path) -> Callable[[Any], tuple[str, ...]]:
    """[api] listen: one address or a list of them, each unix:PATH (relative to `base`) or tcp:HOST:PORT."""
    address = each(lambda item: _address(item, base))

    def parse(value: Any) -> tuple[str, ...]:
        if value == []:
            raise invalid(f"must name at least one address; {LISTEN_HELP}")
        return tuple(address(value))

    return parse


def _address(value: Any, base: Path) -> str:
    if not isinstance(value, str):
        raise invalid(f"must be an address as a string; {LISTEN_HELP}, not {describe(value)}")
    scheme, _, rest = value.partition(":")
    if scheme == "unix" and rest:
        return f"unix:{_socket_path(rest, base)}"
    if scheme == "tcp" and rest:
        return f"tcp:{_host_port(rest)}"
    raise invalid(f"{value!r} is not an address; {LISTEN_HELP}")


def _socket_path(text: str, base: Path) -> Path:
    if text.startswith("@"):
        raise invalid(f"unix:{text}: abstract sockets are not supported; give the socket a path in a folder")
    path = base / text
    size = len(os.fsencode(path))
    if size > SOCKET_PATH_MAX:
        raise invalid(f"unix:{path}: the path is {size} bytes long, and a socket's may have at most "
                      f"{SOCKET_PATH_MAX}; choose a shorter one")
    return path


def _host_port(text: str) -> str:
    """HOST:PORT with HOST a name, an IPv4 address or a [bracketed] IPv6 address; PORT 1-65535."""
    host, colon, port = text.rpartition(":")
    if not colon or not (port.isascii() and port.isdigit() and len(port) <= 5) or not 1 <= int(port) <= 65535:
        raise invalid(f"tcp:{text}: give a port from 1 to 65535 after the host, as in tcp:127.0.0.1:5050")
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1])}]:{int(port)}"
        except ValueError:
            raise invalid(f"tcp:{text}: {host} is not an IPv6 address") from None
    if ":" in host:
        raise invalid(f"tcp:{text}: write an IPv6 address in brackets, as in tcp:[::1]:5050")
    if not _HOSTNAME.fullmatch(host):
        raise invalid(f"tcp:{text}: {host!r} is not a host name or an IP address")
    return f"{host}:{int(port)}"
