"""journald's open streams as the host sees them, and the ExecStopPost that waits for them (streams.py)."""
from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from unittest import mock

import pytest

from agentd.systemd import streams
from agentd.systemd.streams import OpenStreams, c_escape, drain_command, drain_within, stream_keys, wait_closed

STATE = "# This is private data. Do not parse\nPRIORITY=6\nSTREAM_ID=0123\nIDENTIFIER={ident}\n{unit}"


def write_state(folder: Path, name: str, ident: str, unit: str | None) -> Path:
    path = folder / name
    temporary = folder / f".{name}.tmp"
    temporary.write_text(STATE.format(ident=ident, unit=f"UNIT={unit}\n" if unit else ""))
    temporary.rename(path)  # as journald writes them: whole, by rename
    return path


def test_c_escape_is_systemds_cescape_for_what_unit_names_hold() -> None:
    assert c_escape("apsis-r1.service") == "apsis-r1.service"
    assert c_escape("apsis-a\\x2db.service") == "apsis-a\\\\x2db.service"
    assert c_escape("a\tb\n\"'") == "a\\tb\\n\\\"\\'"
    assert c_escape("\x01é") == "\\x01\\xc3\\xa9"


def test_a_run_s_streams_are_known_by_its_unit_or_its_own_identifier() -> None:
    assert stream_keys("apsis-r1.service", "apsis-r1") == ("UNIT=apsis-r1.service", "IDENTIFIER=apsis-r1")


@pytest.mark.parametrize(("grace", "within"), [(30.0, 27.0), (2.0, 1.5), (0.5, 0.0), (0.2, 0.0), (1000.0, 120.0),
                                               (0.0, 120.0)])
def test_the_wait_always_ends_before_the_stop_timeout_would_kill_it(grace: float, within: float) -> None:
    assert drain_within(grace) == within


def test_the_drain_command_says_which_streams_and_for_how_long() -> None:
    argv = drain_command("apsis-r1.service", "apsis-r1", 27.0)
    assert argv[:4] == [streams.PERL, streams.DRAIN_SCRIPT, "UNIT=apsis-r1.service", "IDENTIFIER=apsis-r1"]
    assert argv[4].startswith("apsis-drain-") and c_escape(argv[4]) == argv[4]
    assert argv[5] == "2700"
    assert os.access(streams.DRAIN_SCRIPT, os.R_OK)
    # No `$` nor `%` reaches systemd: it would expand them in ExecStopPost (after a reload, % too).
    assert not any("$" in arg or "%" in arg for arg in argv)


def test_open_streams_are_seen_until_their_state_file_goes(tmp_path: Path) -> None:
    seen = OpenStreams(str(tmp_path))
    keys = stream_keys("apsis-r1.service", "apsis-r1")
    main = write_state(tmp_path, "9:100", "job/a", "apsis-r1.service")
    write_state(tmp_path, "9:101", "other", "other.service")
    with mock.patch.object(streams.time, "monotonic", side_effect=itertools.count(10.0)):
        assert seen.any_open(keys)
        main.unlink()
        assert not seen.any_open(keys)
        write_state(tmp_path, "9:102", "apsis-r1", None)  # a split run's systemd-cat stream names no unit
        assert seen.any_open(keys)
        assert not seen.any_open(stream_keys("apsis-r2.service", "apsis-r2"))


def test_a_socket_inode_used_again_is_a_new_stream(tmp_path: Path) -> None:
    """The file's name is the socket's inode, which the kernel gives out again: its content is read anew."""
    seen = OpenStreams(str(tmp_path))
    write_state(tmp_path, "9:100", "apsis-r1", "apsis-r1.service")
    with mock.patch.object(streams.time, "monotonic", side_effect=itertools.count(10.0)):
        assert seen.any_open(stream_keys("apsis-r1.service", "apsis-r1"))
        write_state(tmp_path, "9:100", "apsis-r2", "apsis-r2.service")
        assert not seen.any_open(stream_keys("apsis-r1.service", "apsis-r1"))


def test_a_look_now_is_never_one_taken_before(tmp_path: Path) -> None:
    """Whether a run's streams were open when it ended is asked once it has ended: a look from before says open
    of a stream that has closed since."""
    seen = OpenStreams(str(tmp_path))
    keys = stream_keys("apsis-r1.service", "apsis-r1")
    path = write_state(tmp_path, "9:100", "apsis-r1", "apsis-r1.service")
    with mock.patch.object(streams.time, "monotonic", return_value=10.0):
        assert seen.any_open(keys)
        path.unlink()
        assert seen.any_open(keys)  # within FRESH: the look before is reused
        assert not seen.any_open(keys, now=True)


def test_a_missing_folder_has_no_open_streams(tmp_path: Path) -> None:
    assert not OpenStreams(str(tmp_path / "none")).any_open(["UNIT=x.service"])


def test_wait_closed_ends_when_the_streams_close_or_the_time_is_up(tmp_path: Path) -> None:
    seen = OpenStreams(str(tmp_path))
    keys = stream_keys("apsis-r1.service", "apsis-r1")
    path = write_state(tmp_path, "9:100", "apsis-r1", "apsis-r1.service")

    async def close_soon() -> bool:
        asyncio.get_running_loop().call_later(0.2, path.unlink)
        return await wait_closed(seen, keys, 5.0)

    assert asyncio.run(close_soon())
    write_state(tmp_path, "9:101", "apsis-r1", "apsis-r1.service")
    assert not asyncio.run(wait_closed(OpenStreams(str(tmp_path)), keys, 0.2))
