"""Unit names, object paths and StartTransientUnit properties: pure."""
from __future__ import annotations

import signal
from dataclasses import replace
from typing import Any

import pytest
from dbus_fast import Variant

from agentd.errors import SpecError
from agentd.spec import MAX_COUNT, MAX_CPU_PERCENT, MAX_SECONDS, RunSpec, check
from agentd.systemd.units import escape, object_path, properties, run_id_of, unescape, unit_name

UNIT = "/org/freedesktop/systemd1/unit/"
BASE = RunSpec(run_id="r1", argv=("/bin/true",))
OPTIONAL = (
    "RuntimeMaxUSec", "User", "Group", "Environment", "WorkingDirectory",
    "MemoryMax", "CPUQuotaPerSecUSec", "TasksMax", "Nice", "LoadCredential", "LoadCredentialEncrypted",
)


def props(user_manager: bool = False, executable: str = "/bin/true", **changes: Any) -> dict[str, Variant]:
    pairs = properties(replace(BASE, **changes), executable, user_manager=user_manager)
    assert all(isinstance(p, list) and len(p) == 2 and isinstance(p[1], Variant) for p in pairs)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), names
    return dict((name, value) for name, value in pairs)


# Values checked against `systemd-escape -- TEXT` (systemd 252).
KNOWN_ESCAPES = [
    ("r123", "r123"),
    ("a-b", "a\\x2db"),
    ("a/b", "a-b"),
    ("/x/", "-x-"),
    ("-", "\\x2d"),
    (".hidden", "\\x2ehidden"),
    ("..x", "\\x2e.x"),
    ("x.y", "x.y"),
    ("run:1_2.3", "run:1_2.3"),
    ("a b", "a\\x20b"),
    ("a\\b", "a\\x5cb"),
    ("a@b", "a\\x40b"),
    ("a~b%c", "a\\x7eb\\x25c"),
    ("é x", "\\xc3\\xa9\\x20x"),
    ("日本", "\\xe6\\x97\\xa5\\xe6\\x9c\\xac"),
    ("2024-01-01T00:00:00Z", "2024\\x2d01\\x2d01T00:00:00Z"),
    ("", ""),
]

ROUND_TRIP = [
    "r1", "a-b", "a/b", "/", "//", "-", "--x--", "a b  c", " ", ".", "..", ".hidden", "x.", "é", "日本語",
    "emoji 🙂", "a\\b", "\\x2d", "a\\x41", "\\", "tab\there", "new\nline", "$HOME; rm -rf /", "'\"`",
    "2024-01-01T00:00:00Z", "job/2024-01-01/3", "x" * 200, "ALL:CAPS_and.dots",
]


@pytest.mark.parametrize(("text", "escaped"), KNOWN_ESCAPES)
def test_escape_known_values(text: str, escaped: str) -> None:
    assert escape(text) == escaped
    assert unescape(escaped) == text


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_escape_round_trip(text: str) -> None:
    escaped = escape(text)
    assert unescape(escaped) == text
    assert escaped.isascii()
    assert "/" not in escaped
    assert not escaped.startswith(".")
    assert set(escaped) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.\\-")


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_unit_name_round_trip(text: str) -> None:
    unit = unit_name(text)
    assert unit.startswith("apsis-") and unit.endswith(".service")
    assert run_id_of(unit) == text


def test_unit_name_known() -> None:
    assert unit_name("r1") == "apsis-r1.service"
    assert unit_name("a/b-c") == "apsis-a-b\\x2dc.service"


@pytest.mark.parametrize(
    "unit",
    [
        "avahi-daemon.service", "apsis.slice", "apsis-r1.scope", "apsis-r1.service.d", "xapsis-r1.service",
        "Apsis-r1.service", "apsis_r1.service", "apsis-r1.socket", "init.scope", "",
    ],
)
def test_run_id_of_foreign_units(unit: str) -> None:
    assert run_id_of(unit) is None


@pytest.mark.parametrize(
    ("unit", "run_id"),
    [("apsis-r1.service", "r1"), ("apsis-a\\x2db.service", "a-b"), ("apsis-a-b.service", "a/b")],
)
def test_run_id_of_known(unit: str, run_id: str) -> None:
    assert run_id_of(unit) == run_id


def test_run_id_of_malformed_escape_is_not_a_run() -> None:
    # systemd allows '\' in unit names; escape() never produces '\xzz', so this is no run's unit.
    assert run_id_of("apsis-\\xzz.service") is None
    assert run_id_of("apsis-\\x4.service") is None  # truncated escape


@pytest.mark.parametrize(
    ("unit", "path"),
    [
        ("avahi-daemon.service", UNIT + "avahi_2ddaemon_2eservice"),
        ("0abc.service", UNIT + "_30abc_2eservice"),
        ("apsis-r1.service", UNIT + "apsis_2dr1_2eservice"),
        ("apsis-a\\x2db.service", UNIT + "apsis_2da_5cx2db_2eservice"),
        ("a1_b.slice", UNIT + "a1_5fb_2eslice"),
        ("-.mount", UNIT + "_2d_2emount"),
        ("é", UNIT + "_c3_a9"),
        ("", UNIT + "_"),
    ],
)
def test_object_path(unit: str, path: str) -> None:
    assert object_path(unit) == path


@pytest.mark.parametrize("run_id", ROUND_TRIP)
def test_object_path_is_a_valid_dbus_path(run_id: str) -> None:
    element = object_path(unit_name(run_id)).removeprefix(UNIT)
    assert element and element.isascii()
    assert all(c.isalnum() or c == "_" for c in element)


def test_fixed_properties() -> None:
    p = props()
    assert p["Type"] == Variant("s", "exec")
    assert p["Slice"] == Variant("s", "apsis.slice")
    assert p["AddRef"] == Variant("b", True)
    assert p["CollectMode"] == Variant("s", "inactive-or-failed")
    assert p["LogRateLimitIntervalUSec"] == Variant("t", 1)
    assert p["KillMode"] == Variant("s", "control-group")
    assert p["SendSIGKILL"] == Variant("b", True)
    assert p["StandardOutput"] == Variant("s", "journal")
    assert p["StandardError"] == Variant("s", "inherit")
    assert p["SyslogLevelPrefix"] == Variant("b", False)  # "<3>..." is output as written, not a priority
    for accounting in ("CPUAccounting", "MemoryAccounting", "TasksAccounting"):
        assert p[accounting] == Variant("b", True)
    assert p["KillSignal"] == Variant("i", int(signal.SIGTERM))
    assert p["TimeoutStopUSec"] == Variant("t", 30_000_000)
    assert p["SyslogIdentifier"] == Variant("s", "apsis-r1")
    assert p["LogExtraFields"] == Variant("aay", [b"APSIS_RUN_ID=r1"])


def test_optional_properties_absent_when_not_given() -> None:
    p = props(user_manager=False)
    assert not set(OPTIONAL) & set(p)


@pytest.mark.parametrize(
    "argv",
    [
        ("/bin/echo", "$HOME; rm -rf /"),
        ("prog", "${PATH}", "%h", "a b", "", "'q'", "\\n"),
        ("/bin/true",),
    ],
)
def test_exec_start_passes_argv_unchanged(argv: tuple[str, ...]) -> None:
    p = props(executable="/usr/bin/resolved", argv=argv)
    assert p["ExecStartEx"].signature == "a(sasas)"
    assert p["ExecStartEx"].value == [["/usr/bin/resolved", list(argv), ["no-env-expand"]]]


def test_exec_start_of_a_shell_command() -> None:
    p = props(executable="/bin/sh", argv=None, shell="echo $HOME; exit 3")
    assert p["ExecStartEx"].value == [["/bin/sh", ["/bin/sh", "-c", "echo $HOME; exit 3"], ["no-env-expand"]]]


@pytest.mark.parametrize("user_manager", [False, True])
def test_a_split_run_runs_its_program_under_systemd_cat(user_manager: bool) -> None:
    # Always the run's own identifier: journald may not know systemd-cat's unit, and the output is found by it.
    identifier = "apsis-r7"
    p = props(user_manager=user_manager, run_id="r7", job_id="backup", executable="/usr/bin/resolved",
              argv=("prog", "$HOME", "--", "-p"), split_output=True)
    cat = ["/usr/bin/systemd-cat", f"--identifier={identifier}", "--priority=6", "--stderr-priority=3",
           "--level-prefix=false", "--"]
    assert p["ExecStartEx"].value == [["/usr/bin/systemd-cat", [*cat, "/usr/bin/resolved", "$HOME", "--", "-p"],
                                       ["no-env-expand"]]]
    assert p["SyslogIdentifier"] == Variant("s", identifier)
    assert p["StandardOutput"] == Variant("s", "journal")


def test_a_split_shell_command() -> None:
    p = props(executable="/bin/sh", argv=None, shell="echo hi", split_output=True)
    assert p["ExecStartEx"].value[0][1][-4:] == ["--", "/bin/sh", "-c", "echo hi"]


def test_job_id_in_extra_fields_and_identifier() -> None:
    p = props(run_id="r7", job_id="backup")
    assert p["LogExtraFields"] == Variant("aay", [b"APSIS_RUN_ID=r7", b"APSIS_JOB_ID=backup"])
    assert p["SyslogIdentifier"] == Variant("s", "backup")
    assert "backup" in p["Description"].value and "r7" in p["Description"].value


def test_under_a_user_manager_the_identifier_is_the_runs_own() -> None:
    # journald drops LogExtraFields for user units: the identifier is what finds the output.
    assert props(user_manager=True, run_id="r7", job_id="backup")["SyslogIdentifier"] == Variant("s", "apsis-r7")


def test_extra_fields_keep_the_unescaped_run_id() -> None:
    p = props(run_id="a-b/é")
    assert p["LogExtraFields"].value == ["APSIS_RUN_ID=a-b/é".encode()]


@pytest.mark.parametrize(
    ("timeout", "usec"), [(1.5, 1_500_000), (1, 1_000_000), (0.000001, 1), (3600, 3_600_000_000)]
)
def test_runtime_max(timeout: float, usec: int) -> None:
    assert props(timeout=timeout)["RuntimeMaxUSec"] == Variant("t", usec)


@pytest.mark.parametrize(
    ("stop_signal", "number"),
    [("TERM", 15), ("SIGINT", 2), ("kill", 9), (1, 1), ("USR1", int(signal.SIGUSR1))],
)
def test_kill_signal(stop_signal: str | int, number: int) -> None:
    assert props(stop_signal=stop_signal)["KillSignal"] == Variant("i", number)


@pytest.mark.parametrize(("grace", "usec"), [(0, 0), (2.5, 2_500_000), (30, 30_000_000)])
def test_timeout_stop(grace: float, usec: int) -> None:
    assert props(grace_period=grace)["TimeoutStopUSec"] == Variant("t", usec)


@pytest.mark.parametrize(
    ("changes", "name", "expected"),
    [
        ({"memory_max": 268_435_456}, "MemoryMax", Variant("t", 268_435_456)),
        ({"cpu_quota": 50}, "CPUQuotaPerSecUSec", Variant("t", 500_000)),
        ({"cpu_quota": 200}, "CPUQuotaPerSecUSec", Variant("t", 2_000_000)),
        ({"cpu_quota": 0.5}, "CPUQuotaPerSecUSec", Variant("t", 5_000)),
        ({"tasks_max": 64}, "TasksMax", Variant("t", 64)),
        ({"nice": -20}, "Nice", Variant("i", -20)),
        ({"nice": 0}, "Nice", Variant("i", 0)),
        ({"nice": 19}, "Nice", Variant("i", 19)),
        ({"cwd": "/srv/data dir"}, "WorkingDirectory", Variant("s", "/srv/data dir")),
        ({"env": {"K": "V"}}, "Environment", Variant("as", ["K=V"])),
        ({"env": {"A": "1", "B": "x=y z", "C": ""}}, "Environment", Variant("as", ["A=1", "B=x=y z", "C="])),
        ({"credentials": {"token": "/etc/apsis/token", "b": "/b"}}, "LoadCredential",
         Variant("a(ss)", [["token", "/etc/apsis/token"], ["b", "/b"]])),
        ({"encrypted_credentials": {"db": "/etc/db.cred"}}, "LoadCredentialEncrypted",
         Variant("a(ss)", [["db", "/etc/db.cred"]])),
    ],
)
def test_optional_property(changes: dict[str, Any], name: str, expected: Variant) -> None:
    p = props(**changes)
    assert p[name] == expected
    assert not (set(OPTIONAL) - {name}) & set(p)


def test_user_and_group_for_the_system_manager() -> None:
    p = props(user_manager=False, user="nobody", group="nogroup")
    assert p["User"] == Variant("s", "nobody")
    assert p["Group"] == Variant("s", "nogroup")


def test_user_and_group_absent_for_a_user_manager() -> None:
    p = props(user_manager=True, user="nobody", group="nogroup")
    assert "User" not in p and "Group" not in p
    assert p["Type"] == Variant("s", "exec")


def test_all_properties_together() -> None:
    p = props(
        job_id="j", timeout=10, user="u", group="g", env={"X": "1"}, cwd="/w", memory_max=1,
        cpu_quota=100, tasks_max=2, nice=5, stop_signal="INT", grace_period=1, credentials={"t": "/t"},
        encrypted_credentials={"e": "/e"},
    )
    assert set(OPTIONAL) <= set(p)
    assert p["RuntimeMaxUSec"].value == 10_000_000
    assert p["CPUQuotaPerSecUSec"].value == 1_000_000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timeout": float("inf")}, "timeout"),
        ({"grace_period": float("inf")}, "stop.grace_period"),
        ({"cpu_quota": float("inf")}, "limits.cpu"),
        ({"timeout": 1e300}, "timeout"),
        ({"memory_max": 2**70}, "limits.memory"),
        ({"tasks_max": 2**64}, "limits.tasks"),
    ],
)
def test_values_no_unit_could_hold_are_refused_by_check(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as error:
        check(replace(BASE, **changes))
    assert error.value.field == field


def test_the_largest_accepted_values_still_become_valid_properties() -> None:
    spec = replace(BASE, timeout=MAX_SECONDS, grace_period=MAX_SECONDS, cpu_quota=MAX_CPU_PERCENT,
                   memory_max=MAX_COUNT, tasks_max=MAX_COUNT)
    check(spec)
    values = properties(spec, "/bin/true", user_manager=False)
    assert all(0 <= v.value < 2**64 for _, v in values if v.signature == "t")
