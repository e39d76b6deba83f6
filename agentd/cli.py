"""The `agentd` command: `agentd serve --stdio`, what apsisd runs on a remote host over SSH.

stdout is the protocol's alone: the real fd 1 is kept for it and fd 1 itself
pointed at stderr, so that nothing printed by mistake (a library's warning)
can break a frame. Logs go to stderr, which SSH carries back to apsisd.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import os
import pwd
import socket
import sys

from agentd.local.host import LocalHost
from agentd.protocol.messages import Hello
from agentd.serve import Server


def version() -> str:
    try:
        return importlib.metadata.version("apsis")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _first_line(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.readline().strip()
    except OSError:
        return ""


def identity(protocol: int, *, user_manager: bool) -> Hello:
    """Who and where this agentd is."""
    return Hello(protocol=protocol, agentd=version(), hostname=socket.gethostname(),
                 machine_id=_first_line("/etc/machine-id"), boot_id=_first_line("/proc/sys/kernel/random/boot_id"),
                 user=pwd.getpwuid(os.geteuid()).pw_name, manager="user" if user_manager else "system")


async def _stdio() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    protocol_out = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, never into a frame
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0))
    transport, stream_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(protocol_out, "wb", buffering=0))
    return reader, asyncio.StreamWriter(transport, stream_protocol, reader, loop)


async def serve_stdio() -> None:
    reader, writer = await _stdio()
    user_manager = os.geteuid() != 0
    async with LocalHost(user_manager=user_manager) as host:
        await Server(host, reader, writer, lambda v: identity(v, user_manager=user_manager)).serve()


def parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command line, and its subcommands' parsers by name (the man page agentd(8) is written from them)."""
    top = argparse.ArgumentParser(prog="agentd", description="Run programs as systemd units for apsisd.")
    top.add_argument("--version", action="version", version=f"agentd {version()}")
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one apsisd over stdin and stdout (run by SSH)")
    serve.add_argument("--stdio", action="store_true", required=True, help="speak the protocol on stdin/stdout")
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return top, {"serve": serve}


def main(argv: list[str] | None = None) -> int:
    args = parser()[0].parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="agentd %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve_stdio())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a one-line reason on stderr, for apsisd to show
        print(f"agentd: {exc}", file=sys.stderr)
        return 1
    return 0
