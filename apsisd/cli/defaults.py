"""What `apsis` takes from apsisd's own configuration, read as apsisd does: the jobs folder, the tokens file, and
the API's socket.

The file is $APSIS_CONFIG if set, else apsisd's default one (root:
/etc/apsis/apsisd.toml; anyone else: their XDG config folder), so
`apsis check-jobs` checks the folder the daemon would load, and the other
commands talk to the socket it listens on.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apsisd.config.load import Config, ConfigError, load_config
from apsisd.config.owner import SYSTEM_SOCKET
from apsisd.errors import ApsisError, InvalidFiles
from apsisd.jobs.hosts import LOCAL


@dataclass(frozen=True, slots=True, kw_only=True)
class Folders:
    jobs: Path
    calendars: tuple[Path, ...] = ()
    host_names: frozenset[str] = frozenset({LOCAL})  # what a job's host: may name


def folders(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Folders:
    """The jobs folder and the calendar folders besides it, from the configuration."""
    config = configuration(environ, euid)
    return Folders(jobs=config.jobs_dir, calendars=config.calendar_folders(), host_names=config.hosts.names())


def configuration(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Config:
    """apsisd's configuration, as apsisd would read it.

    A wrong configuration is a ConfigError (FILE:LINE: each problem), not
    InvalidFiles: the commands report problems in the jobs, not in apsisd.toml,
    as their findings.
    """
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    path = Path(environ["APSIS_CONFIG"]) if environ.get("APSIS_CONFIG") else None
    try:
        return load_config(path, privileged=euid == 0, env=environ)
    except InvalidFiles as exc:
        raise ConfigError(str(exc)) from None


def api_sockets(environ: Mapping[str, str] | None = None, euid: int | None = None) -> tuple[Path, ...]:
    """The API's sockets to try, best first.

    The first unix: address of the configuration's `[api] listen` (root:
    /run/apsis/api.sock; anyone else: their own apsisd's, in
    $XDG_RUNTIME_DIR/apsis); then, for anyone but root who did not name a
    configuration in $APSIS_CONFIG, the system apsisd's (an operator in the
    group apsis talking to it). A configuration folder this user may not
    enter (`sudo -u` keeping HOME) counts as none; a system configuration
    they may not read leaves the default system socket.
    """
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    try:
        found = [_first_socket(configuration(environ, euid))]
    except OSError:
        found = []
    if (euid != 0 and not environ.get("APSIS_CONFIG")) or not any(found):
        try:
            system = _first_socket(load_config(None, privileged=True, env={}))
        except (ApsisError, OSError):
            system = None
        found.append(system or Path(SYSTEM_SOCKET.removeprefix("unix:")))
    return tuple(path for path in found if path is not None)


def _first_socket(config: Config) -> Path | None:
    return next((Path(address.removeprefix("unix:")) for address in config.api_listen if address.startswith("unix:")),
                None)


def local_zone(environ: Mapping[str, str] | None = None) -> ZoneInfo:
    """This machine's time zone as a zone with its DST rules (from $TZ, else /etc/localtime)."""
    environ = os.environ if environ is None else environ
    name = environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"$TZ={name!r} is not a time zone; use an IANA name such as Europe/London") from None
    localtime = Path("/etc/localtime")
    target = str(localtime.resolve())
    if "zoneinfo/" in target:
        try:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if localtime.exists():
        with localtime.open("rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    return ZoneInfo("UTC")
