"""Where the commands that work without a daemon find the jobs: the configured folder, or the default one.

Provisional: the daemon issue owns the configuration file; until then this
reads only its `jobs` (a folder) and `calendars` (a folder or a list) keys.
Root uses /etc/apsis; anyone else their XDG config folder, as apsisd does
when run unprivileged.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apsisd.errors import ApsisError

SYSTEM_FOLDER = Path("/etc/apsis")


class ConfigError(ApsisError):
    """The configuration file cannot be read or holds a wrong value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Folders:
    jobs: Path
    calendars: tuple[Path, ...] = ()


def config_folder(environ: Mapping[str, str], euid: int) -> Path:
    if euid == 0:
        return SYSTEM_FOLDER
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "apsis"


def folders(environ: Mapping[str, str] | None = None, euid: int | None = None) -> Folders:
    """The jobs and calendars folders: from $APSIS_CONFIG or the default config file if it exists, else defaults.

    Relative paths in the file are taken from the file's own folder.
    """
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    default = config_folder(environ, euid)
    path = Path(environ["APSIS_CONFIG"]) if environ.get("APSIS_CONFIG") else default / "apsisd.toml"
    if not path.exists():
        return Folders(jobs=default / "jobs")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from None
    jobs = config.get("jobs", str(default / "jobs"))
    calendars = config.get("calendars", [])
    calendars = [calendars] if isinstance(calendars, str) else calendars
    if not isinstance(jobs, str) or not isinstance(calendars, list) or not all(isinstance(c, str) for c in calendars):
        raise ConfigError(f"{path}: `jobs` must be a folder and `calendars` a folder or a list of folders")
    return Folders(jobs=path.parent / jobs, calendars=tuple(path.parent / folder for folder in calendars))


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
