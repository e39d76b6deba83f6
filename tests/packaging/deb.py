"""Reading a built .deb without installing it: its paths, its control fields, its files unpacked in a folder."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Debs:
    """One build: the two .debs, what tools/build-deb printed (lintian's report among it) and its exit status."""

    apsis: Path
    agent: Path
    version: str
    output: str
    status: int


def contents(deb: Path) -> dict[str, str]:
    """The package's paths (without the leading `.`), each with its mode string (`-rwxr-xr-x`, `drwxr-xr-x`)."""
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    paths = {}
    for line in listing.splitlines():
        fields = line.split(maxsplit=5)
        paths[fields[5].split(" -> ")[0].removeprefix(".").rstrip("/") or "/"] = fields[0]
    return paths


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def extract(deb: Path, root: Path) -> Path:
    """The package's files unpacked under `root` (as dpkg would install them, without running anything)."""
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root
