"""Copies of one journal entry (journal.same_entry, seqnum): journald 252 writes an entry again at the start of a
new file when the one it was writing it to filled up, and a run's output must not show it twice. Lines alike that
journald read at once look the same; only a copy starts a file (the output reader asks the journal's headers)."""
from __future__ import annotations

from agentd.systemd.journal import same_entry, seqnum

# The two copies seen in the sandbox: the last entry of one file, the first of the next.
FIRST = "s=b5c4;i=104432;b=1f06;m=343e765d2;t=661f80837ac3a;x=a0dbd7153b69573e"
COPY = "s=b5c4;i=104433;b=1f06;m=343e765d2;t=661f80837ac3a;x=a0dbd7153b69573e"


def test_the_copy_written_into_the_next_file_is_the_same_entry() -> None:
    assert same_entry(COPY, FIRST)


def test_entries_differing_in_time_content_or_boot_are_not() -> None:
    assert not same_entry(COPY.replace("m=343e765d2", "m=343e765d3"), FIRST)  # the next line, even if alike
    assert not same_entry(COPY.replace("t=661f80837ac3a", "t=661f80837ac3b"), FIRST)
    assert not same_entry(COPY.replace("x=a0db", "x=b0db"), FIRST)
    assert not same_entry(COPY.replace("b=1f06", "b=2f06"), FIRST)


def test_a_cursor_without_those_fields_is_never_the_same() -> None:
    assert not same_entry("s=1;i=2", "s=1;i=2")
    assert not same_entry("", "")


def test_the_sequence_number_is_read_from_the_cursor() -> None:
    assert seqnum(COPY) == 0x104433
    assert seqnum("s=1;b=2") is None
    assert seqnum("i=zz") is None
