"""Running the real `apsis` executable against the real apsisd, as an operator would: once (`apsis(...)`), or
kept running (`Running`: watch, run --wait) with its output read as it comes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APSIS = str(Path(sys.executable).parent / "apsis")
SOCKET = "/run/apsis/api.sock"


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self
        return json.loads(self.out)


def environment(env: dict[str, str] | None) -> dict[str, str]:
    """The test's environment without anything that would point apsis elsewhere, plus `env`."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("APSIS_")}
    return {**base, "TZ": "Europe/Paris", **(env or {})}


def apsis(*args: str, env: dict[str, str] | None = None, user: str | None = None, timeout: float = 60) -> Result:
    """`apsis ARGS...` to its end: its exit status, stdout and stderr."""
    proc = subprocess.run([APSIS, *args], capture_output=True, text=True, timeout=timeout, env=environment(env),
                          user=user, cwd="/")
    return Result(proc.returncode, proc.stdout, proc.stderr)


class Running:
    """`apsis ARGS...` running in the background; its stdout and stderr gathered by threads as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen([APSIS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=environment(env), cwd="/")
        self.out = bytearray()
        self.err = bytearray()
        self._readers = [threading.Thread(target=self._gather, args=(stream, into), daemon=True)
                         for stream, into in ((self.process.stdout, self.out), (self.process.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _gather(stream: Any, into: bytearray) -> None:
        while chunk := stream.read1(65536):
            into.extend(chunk)

    def text(self) -> str:
        return self.out.decode(errors="replace")

    def errors(self) -> str:
        return self.err.decode(errors="replace")

    def wait_for(self, text: str, *, err: bool = False, count: int = 1, timeout: float = 30.0) -> None:
        """Until stdout (or stderr) holds `text` `count` times; polled, with a deadline."""
        deadline = time.monotonic() + timeout
        while (self.errors() if err else self.text()).count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {text!r}\n--- stdout ---\n{self.text()}\n"
                                     f"--- stderr ---\n{self.errors()}")
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> Result:
        """Its exit status once it has ended, and all it wrote."""
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return Result(code, self.text(), self.errors())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.finish()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

