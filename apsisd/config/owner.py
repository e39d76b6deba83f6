"""Whose apsisd reads the configuration, and so where its files are by default: root's in the system folders,
anyone else's in their XDG folders, as their own `systemd --user` manager runs their jobs."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SYSTEM_CONFIG = Path("/etc/apsis")
SYSTEM_STATE = Path("/var/lib/apsis")
SYSTEM_SOCKET = "unix:/run/apsis/api.sock"
CONFIG_NAME = "apsisd.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    """Root's apsisd (`privileged`), or a user's, whose folders follow `env` ($HOME, $XDG_*)."""

    privileged: bool
    env: Mapping[str, str]

    def config_folder(self) -> Path:
        """/etc/apsis as root; $XDG_CONFIG_HOME/apsis (~/.config/apsis) for anyone else."""
        return SYSTEM_CONFIG if self.privileged else self._xdg("XDG_CONFIG_HOME", ".config") / "apsis"

    def state_folder(self) -> Path:
        """/var/lib/apsis as root; $XDG_STATE_HOME/apsis (~/.local/state/apsis) for anyone else."""
        return SYSTEM_STATE if self.privileged else self._xdg("XDG_STATE_HOME", ".local/state") / "apsis"

    def socket(self, state_dir: Path) -> str:
        """The API's socket: in /run/apsis as root, in the user's runtime folder otherwise (or, without one, in the
        state folder, the only folder a user's own apsisd is sure to have)."""
        if self.privileged:
            return SYSTEM_SOCKET
        runtime = self.env.get("XDG_RUNTIME_DIR", "")
        return f"unix:{Path(runtime) / 'apsis' if os.path.isabs(runtime) else state_dir}/api.sock"

    def _xdg(self, name: str, fallback: str) -> Path:
        """An XDG base folder: $name if absolute (the spec says to ignore a relative one), else ~/fallback."""
        value = self.env.get(name, "")
        if os.path.isabs(value):
            return Path(value)
        home = self.env.get("HOME", "")
        return ((Path(home) if os.path.isabs(home) else Path.home()) / fallback).absolute()
