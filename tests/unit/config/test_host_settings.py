"""[hosts.NAME] and [host_groups.NAME]: every key read, its defaults, and every problem with its line, field, what is
wrong and what to do."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from apsisd.config.hosts import GROUP_SETTINGS, HOST_SETTINGS, HostSettings, HostTable
from apsisd.config.load import load_config
from apsisd.config.setting import Setting
from apsisd.errors import InvalidFiles
from apsisd.jobs.hosts import HostGroup, Pick


def hosts_of(file: Path, text: str) -> HostTable:
    file.write_text(text)
    return load_config(file, privileged=True, env={}).hosts


def problems(file: Path, text: str) -> list[str]:
    file.write_text(text)
    with pytest.raises(InvalidFiles) as caught:
        load_config(file, privileged=True, env={})
    return [str(problem).removeprefix(f"{file}:") for problem in caught.value.problems]


def test_no_tables_no_remote_hosts(tmp_path: Path) -> None:
    table = hosts_of(tmp_path / "apsisd.toml", "")
    assert table == HostTable() and table.names() == {"local"}


def test_every_key_read_and_relative_identity_from_the_file_s_folder(tmp_path: Path) -> None:
    table = hosts_of(tmp_path / "apsisd.toml", '''
[hosts.db1]
ssh = "root@db1.example"
port = 2222
identity = "ssh/id_ed25519"
agentd = ["sudo", "-n", "/opt/apsis/bin/agentd"]
connect_timeout = "5s"
keepalive_interval = 10
keepalive_count = 6
unreachable_after = "5m"
[hosts.db2]
ssh = "db2"
agentd = "/usr/local/bin/agentd"
[hosts.v6]
ssh = "apsis@::1"
[host_groups.dbs]
hosts = ["db2", "db1", "local"]
pick = "random"
[host_groups.web-eu]
hosts = ["v6"]
''')
    assert table.hosts == {
        "db1": HostSettings(name="db1", ssh="root@db1.example", port=2222, identity=tmp_path / "ssh/id_ed25519",
                            agentd=("sudo", "-n", "/opt/apsis/bin/agentd"), connect_timeout=5.0,
                            keepalive_interval=10.0, keepalive_count=6, unreachable_after=300.0),
        "db2": HostSettings(name="db2", ssh="db2", agentd=("/usr/local/bin/agentd",)),
        "v6": HostSettings(name="v6", ssh="apsis@::1"),
    }
    assert table.groups == {"dbs": HostGroup(name="dbs", hosts=("db2", "db1", "local"), pick=Pick.RANDOM),
                            "web-eu": HostGroup(name="web-eu", hosts=("v6",), pick=Pick.ROUND_ROBIN)}
    assert table.names() == {"local", "db1", "db2", "v6", "dbs", "web-eu"}


def test_the_defaults_and_why_they_fit_together() -> None:
    host = HostSettings(name="h", ssh="h")
    assert (host.port, host.identity, host.agentd, host.connect_timeout) == (None, None, ("agentd",), 10.0)
    assert host.link_timeout == 45.0 and host.unreachable_after == 120.0 >= host.link_timeout
    assert {s.key: s.default for s in HOST_SETTINGS if s.default is not None} == {
        "agentd": host.agentd, "connect_timeout": 10.0, "keepalive_interval": 15.0, "keepalive_count": 3,
        "unreachable_after": 120.0}, "the table says what the dataclass does"
    assert [s.key for s in GROUP_SETTINGS] == ["hosts", "pick"]


def test_a_host_s_keys_each_checked(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '''[hosts.db1]
port = 0
identity = ""
agentd = "agentd; rm -rf /"
connect_timeout = 0
keepalive_interval = "soon"
keepalive_count = 0
unreachable_after = -1
user = "root"
''') == [
        "1: hosts.db1.ssh: is required",
        "2: hosts.db1.port: must be a TCP port, a whole number from 1 to 65535, not a number 0",
        "3: hosts.db1.identity: must be the path of a file, as a string, not a string ''",
        "4: hosts.db1.agentd: must be a word the remote shell reads as itself (letters, digits and _ . / + @ % = : , "
        "-), such as /usr/local/bin/agentd; not a string 'agentd; rm -rf /'",
        "5: hosts.db1.connect_timeout: must be a duration above zero such as 30m, 1d, not a number 0",
        "6: hosts.db1.keepalive_interval: 'soon' is not a duration; use a number of seconds or a duration such as "
        "90s, 15m, 4h, 1d or 1h30m",
        "7: hosts.db1.keepalive_count: must be a whole number of keep-alives from 1 to 100, not a number 0",
        "8: hosts.db1.unreachable_after: must not be negative, not -1; use a number of seconds or a duration such as "
        "90s, 15m, 4h, 1d or 1h30m",
        "9: hosts.db1.user: unknown key; allowed here: agentd, connect_timeout, identity, keepalive_count, "
        "keepalive_interval, port, ssh, unreachable_after",
    ]


@pytest.mark.parametrize("destination", [
    "-oProxyCommand=evil", "root@-oProxyCommand=evil", "root@", "@db1", "root@db 1", "root@db1\nHost *", "",
    "ssh://root@db1:22", "root@db1;reboot", "a@b@c"])
def test_an_ssh_destination_that_ssh_would_read_otherwise_is_refused(tmp_path: Path, destination: str) -> None:
    escaped = destination.replace("\n", "\\n")
    assert problems(tmp_path / "apsisd.toml", f'[hosts.db1]\nssh = "{escaped}"\n') == [
        f"2: hosts.db1.ssh: must be where ssh connects, as ssh takes it: user@host (or a host, or a Host of "
        f"ssh_config), such as root@db1.example; not {destination!r}"]


@pytest.mark.parametrize("destination", ["db1", "root@db1.example", "batch@10.0.0.7", "root@fe80::1%eth0",
                                         "ci_bot@build-7.eu.example"])
def test_what_ssh_takes_is_taken(tmp_path: Path, destination: str) -> None:
    assert hosts_of(tmp_path / "apsisd.toml", f'hosts.h.ssh = "{destination}"\n').hosts["h"].ssh == destination


@pytest.mark.parametrize(("value", "wrong"), [
    ("[]", 'must name the command, such as "agentd" or "/usr/local/bin/agentd"'),
    ('"-x"', "must begin with the command, not an option such as '-x'"), ('"$(id)"', "not a string '$(id)'"),
    ('"a b"', "not a string 'a b'"),
    ("3", "not a number 3")])
def test_the_agentd_command_is_words_never_shell(tmp_path: Path, value: str, wrong: str) -> None:
    found = problems(tmp_path / "apsisd.toml", f'[hosts.db1]\nssh = "db1"\nagentd = {value}\n')
    assert len(found) == 1 and found[0].startswith("3: hosts.db1.agentd") and found[0].endswith(wrong)


def test_a_list_s_bad_word_is_named_by_its_place(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", 'hosts.db1 = { ssh = "db1", agentd = ["sudo", "`id`"] }\n') == [
        "1: hosts.db1.agentd[1]: must be a word the remote shell reads as itself (letters, digits and _ . / + @ % = "
        ": , -), such as /usr/local/bin/agentd; not a string '`id`'"]


def test_unreachable_after_is_no_shorter_than_it_takes_to_see_the_link_down(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '''[hosts.db1]
ssh = "db1"
keepalive_interval = "20s"
unreachable_after = "30s"
''') == ["4: hosts.db1.unreachable_after: is 30s, less than the 60s (keepalive_interval times keepalive_count) it "
         "takes to see the link is down; make it at least that"]
    assert hosts_of(tmp_path / "apsisd.toml", '[hosts.db1]\nssh = "db1"\nunreachable_after = 45\n').hosts[
        "db1"].unreachable_after == 45.0


@pytest.mark.parametrize("name", ["1db", "db.example", "db 1", "_x", "é", "x" * 64, "-db"])
def test_a_name_that_is_not_a_safe_identifier_is_refused(tmp_path: Path, name: str) -> None:
    shown = f"{name!r}" if len(name) <= 40 else "a string"
    rule = ("must be the name of a host or a group: a letter, then letters, digits, _ or -, 63 at most (such as db1 "
            f"or web-eu); not {shown}")
    assert problems(tmp_path / "apsisd.toml", f'[hosts."{name}"]\nssh = "db1"\n') == [f'1: hosts.{name}: {rule}']
    assert problems(tmp_path / "apsisd.toml", f'[host_groups."{name}"]\nhosts = ["local"]\n') == [
        f"1: host_groups.{name}: {rule}"]


def test_local_is_apsisd_s_own_host_and_never_configured(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '[hosts.local]\nssh = "root@localhost"\n'
                                              '[host_groups.local]\nhosts = ["local"]\n') == [
        "1: hosts.local: 'local' is apsisd's own host, which needs no table; give this host another name",
        "3: host_groups.local: 'local' is apsisd's own host, which needs no table; give this group another name",
    ]


def test_tables_of_the_wrong_shape(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", 'hosts = "db1"\nhost_groups = ["a"]\n') == [
        "1: hosts: must be a table of [hosts.NAME] tables, not a string 'db1'",
        "2: host_groups: must be a table of [host_groups.NAME] tables, not a list",
    ]
    assert problems(tmp_path / "apsisd.toml", 'hosts.db1 = "root@db1"\n') == [
        "1: hosts.db1: must be a table of keys ([hosts.db1]), not a string 'root@db1'"]


def test_a_group_s_problems(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '''[hosts.db1]
ssh = "db1"
[host_groups.empty]
hosts = []
[host_groups.missing]
pick = "first"
[host_groups.bare]
hosts = "db1"
[host_groups.twice]
hosts = ["db1", "local", "db1", 7]
[host_groups.other]
stray = 1
hosts = ["db1"]
''') == [
        "4: host_groups.empty.hosts: is empty: list one host or more (a group with no host could run nothing)",
        "5: host_groups.missing.hosts: is required",
        "6: host_groups.missing.pick: must be one of 'round-robin', 'random', not a string 'first'",
        '8: host_groups.bare.hosts: must be a list of host names, such as ["db1", "db2"], not a string \'db1\'',
        "10: host_groups.twice.hosts[2]: 'db1' is listed twice; list each host once",
        "10: host_groups.twice.hosts[3]: must be the name of a host or a group: a letter, then letters, digits, _ or "
        "-, 63 at most (such as db1 or web-eu); not a number 7",
        "12: host_groups.other.stray: unknown key; allowed here: hosts, pick",
    ]


def test_a_group_lists_known_hosts_not_groups_and_no_name_is_both(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '''[hosts.db1]
ssh = "db1"
[hosts.web]
ssh = "web"
[host_groups.web]
hosts = ["db1"]
[host_groups.all]
hosts = [
  "db1",
  "db9",
  "web",
]
''') == [
        "5: host_groups.web: 'web' is the name of a host too ([hosts.web]); a name is one host or one group: rename "
        "one of them",
        "10: host_groups.all.hosts[1]: no host 'db9': add a [hosts.db9] table, or list one of: db1, local, web",
        "11: host_groups.all.hosts[2]: 'web' is a group; a group lists hosts, not groups: list its hosts",
    ]


def test_every_problem_of_hosts_and_of_other_keys_at_once_in_line_order(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '''log_level = "loud"
[hosts.db1]
port = 22
[host_groups.g]
hosts = ["db2"]
[metrics]
per_job_limit = -1
''') == [
        "1: log_level: must be one of debug, info, warning, error, critical, not a string 'loud'",
        "2: hosts.db1.ssh: is required",
        "5: host_groups.g.hosts[0]: no host 'db2': add a [hosts.db2] table, or list one of: db1, local",
        "7: metrics.per_job_limit: must be a whole number of jobs, 0 or more, not a number -1",
    ]


@pytest.mark.parametrize("setting", (*HOST_SETTINGS, *GROUP_SETTINGS), ids=lambda setting: setting.name)
def test_each_host_setting_explains_itself_and_its_values_read_back(setting: Setting) -> None:
    assert setting.doc.strip() == setting.doc and setting.doc.endswith((".", "...")), "one paragraph, a sentence"
    assert bool(setting.unset) == (setting.default is None), "`unset` says what only a missing value means"
    assert setting.example or setting.default is not None, "a key without a default shows an example"
    read = setting.kind.reader(Path("/etc/apsis"))
    if setting.example:
        read(tomllib.loads(f"value = {setting.example}")["value"])
    if setting.default is not None:
        assert read(tomllib.loads(f"value = {setting.kind.write(setting.default)}")["value"]) == setting.default


@pytest.mark.parametrize(("value", "shown"), [("1.5", "a number 1.5"), ('"500ms"', "a string '500ms'"),
                                              ('"2d"', "a string '2d'")])
def test_ssh_s_timers_are_whole_seconds(tmp_path: Path, value: str, shown: str) -> None:
    found = problems(tmp_path / "apsisd.toml", f'[hosts.db1]\nssh = "db1"\nconnect_timeout = {value}\n'
                                               f"keepalive_interval = {value}\nunreachable_after = \"3d\"\n")
    rule = 'must be whole seconds from 1 to 1d (ssh counts in seconds), such as 10 or "15s", not'
    if value == '"500ms"':  # not a duration apsis reads at all
        assert len(found) == 2 and all("is not a duration" in problem for problem in found)
        return
    assert found == [f"3: hosts.db1.connect_timeout: {rule} {shown}",
                     f"4: hosts.db1.keepalive_interval: {rule} {shown}"]
    written = 'hosts.db1 = {ssh = "db1", connect_timeout = "1m", keepalive_interval = 5}'
    assert hosts_of(tmp_path / "apsisd.toml", written).hosts["db1"] == HostSettings(
        name="db1", ssh="db1", connect_timeout=60, keepalive_interval=5)
