"""Reading apsisd.toml: where the jobs and the state are, how far ahead to schedule, where the API listens, how
many jobs get metrics of their own (settings.py lists every key).

Every key is optional; a missing default file means all defaults, so
`apsisd --jobs DIR --state DIR` alone is a working daemon. Root uses
/etc/apsis and /var/lib/apsis; anyone else their XDG folders, as their own
`systemd --user` manager runs their jobs. The file is checked whole: every
unknown key and bad value is reported at once, each as FILE:LINE.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from apsisd.config.api_limits import ApiLimits
from apsisd.config.hosts import NO_HOSTS, HostTable, read_host_table
from apsisd.config.log_level import LogLevel
from apsisd.config.owner import CONFIG_NAME, Owner
from apsisd.config.setting import settle
from apsisd.config.settings import CHECKS, GROUPS, SETTINGS
from apsisd.config.toml_lines import key_lines, line_of
from apsisd.errors import ApsisError, FileProblem, InvalidFields, InvalidFiles, format_path, invalid
from apsisd.fields import Fields, describe
from apsisd.jobs.scheduling import Scheduling

T = TypeVar("T")
MAX_FILE = 1 << 20  # bytes of the configuration file: it is a few dozen lines
_POSITION = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")
# The [tables] of the file, in the table's order (its top-level keys, section None, come first).
_HOSTS = "hosts"  # what _read_settings gives the HostTable under, beside the settings by dest
_SECTIONS = tuple(section for section in dict.fromkeys(setting.section for setting in SETTINGS) if section)


class ConfigError(ApsisError):
    """The configuration cannot be used: its file is missing or unreadable, or the environment is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything apsisd.toml sets, defaults filled in; paths absolute. What each field means is in
    settings.py, by the key that sets it (`api_tls_cert` is `[api] tls_cert`; `schedule` and `api_limits`
    gather the keys of `[schedule]` and of `[api]` named after their attributes)."""

    file: Path | None  # the file read; None when there was none and all are defaults
    jobs_dir: Path
    calendars_dir: Path
    state_dir: Path
    log_level: LogLevel
    schedule: Scheduling
    waiting_max_time: float | None
    api_listen: tuple[str, ...]
    api_group: str | None
    api_admin_group: str | None
    api_others: str
    api_adhoc_users: frozenset[str] | None
    api_tokens: Path | None
    api_tls_cert: Path | None
    api_tls_key: Path | None
    api_limits: ApiLimits
    web_session_lifetime: float
    web_origin: str | None
    reload_watch: bool
    reload_debounce: float
    reload_max_delay: float
    metrics_per_job_limit: int
    ssh_known_hosts: Path
    hosts: HostTable = NO_HOSTS  # [hosts.NAME] and [host_groups.NAME] (config/hosts.py), not in SETTINGS

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

    def given(self) -> dict[str, Any]:
        """The settings given, by Config field; paths made absolute."""
        values = {name: getattr(self, name) for name in Overrides.__dataclass_fields__}
        return {name: value.absolute() if isinstance(value, Path) else value
                for name, value in values.items() if value is not None}


def load_config(path: Path | None, *, privileged: bool, env: Mapping[str, str],
                overrides: Overrides = Overrides()) -> Config:
    """The configuration from `path` (None: the default file, if there is one), with `overrides` on top.

    Raises ConfigError if `path` is given and missing, or any file cannot be
    read; InvalidFiles with every problem (FILE:LINE: key: message) if its
    TOML or any of its keys is wrong.
    """
    owner = Owner(privileged=privileged, env=env)
    file = (owner.config_folder() / CONFIG_NAME) if path is None else path.absolute()
    found = path is not None or file.exists()
    given = {**(_read_file(file) if found else {}), **overrides.given()}
    hosts = given.pop(_HOSTS, NO_HOSTS)
    return Config(file=file if found else None, hosts=hosts, **config_fields(settle(SETTINGS, given, owner)))


def config_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Config's fields (but `file`) from every setting's value by dest: `schedule.horizon` and the other
    attributes of one field made into its object (GROUPS)."""
    result = {dest: value for dest, value in values.items() if "." not in dest}
    for name, make in GROUPS.items():
        result[name] = make(**{dest.removeprefix(f"{name}."): value for dest, value in values.items()
                               if dest.startswith(f"{name}.")})
    return result


def _read_file(file: Path) -> dict[str, Any]:
    """The settings `file` sets, by dest."""
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
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidFiles([_syntax_problem(file, text, str(exc))]) from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and inline tables
        raise InvalidFiles([FileProblem(str(file), 1, "", "not valid TOML: arrays or tables nested too deeply "
                                        "to read; a configuration needs two levels")]) from None
    try:
        return _read_settings(parsed, file.parent)
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


def _read_settings(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The settings the file sets, by dest, and its HostTable under _HOSTS; every problem collected
    (InvalidFields, paths from the top)."""
    top = Fields(data)
    values = _read_section(top, None, folder)
    for section in _SECTIONS:
        values.update(top.take(section, _table(partial(_read_section, section=section, folder=folder)), {}))
    values[_HOSTS] = read_host_table(top, folder)
    top.done()
    return values


def _read_section(table: Fields, section: str | None, folder: Path) -> dict[str, Any]:
    """The keys of `[section]` that `table` sets, each read by its kind, then the section's CHECKS."""
    settings = [setting for setting in SETTINGS if setting.section == section]
    values = {setting.key: table.take(setting.key, setting.kind.reader(folder), None)
              for setting in settings}
    for check in CHECKS.get(section, ()):
        check(table, values)
    return {setting.dest: values[setting.key] for setting in settings if values[setting.key] is not None}


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
