"""load_config(): apsisd.toml with its defaults, root's and a user's, command-line overrides, every problem with
its line."""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apsisd.config.api_limits import ApiLimits
from apsisd.config.hosts import HostSettings, HostTable
from apsisd.config.load import Config, ConfigError, Overrides, load_config
from apsisd.config.log_level import LogLevel
from apsisd.config.render import HOSTS_INTRO
from apsisd.errors import InvalidFiles
from apsisd.jobs.hosts import HostGroup
from apsisd.jobs.scheduling import DEFAULTS, CatchUp, Scheduling

ETC = Path(__file__).resolve().parents[3] / "etc" / "apsisd.toml"
ROOT = Config(file=None, jobs_dir=Path("/etc/apsis/jobs"), calendars_dir=Path("/etc/apsis/jobs"),
              state_dir=Path("/var/lib/apsis"), log_level=LogLevel.INFO, schedule=DEFAULTS, waiting_max_time=None,
              api_listen=("unix:/run/apsis/api.sock",), api_group="apsis", api_admin_group=None, api_others="none",
              api_adhoc_users=None, api_tokens=None, api_tls_cert=None, api_tls_key=None, api_limits=ApiLimits(),
              web_session_lifetime=43200.0, web_origin=None, reload_watch=True, reload_debounce=0.5,
              reload_max_delay=10.0, metrics_per_job_limit=100,
              ssh_known_hosts=Path("/var/lib/apsis/known_hosts"))


def problems(file: Path, text: str) -> list[str]:
    file.write_text(text)
    with pytest.raises(InvalidFiles) as caught:
        load_config(file, privileged=True, env={})
    return [str(problem).removeprefix(f"{file}:") for problem in caught.value.problems]


def test_root_defaults() -> None:
    if Path("/etc/apsis/apsisd.toml").exists():
        pytest.skip("this machine has an /etc/apsis/apsisd.toml")
    assert load_config(None, privileged=True, env={"XDG_CONFIG_HOME": "/elsewhere"}) == ROOT


def test_a_user_s_defaults_are_their_xdg_folders(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": f"{tmp_path}/c", "XDG_STATE_HOME": f"{tmp_path}/s", "XDG_RUNTIME_DIR": "/run/user/7"}
    config = load_config(None, privileged=False, env=env)
    assert (config.file, config.jobs_dir, config.calendars_dir, config.state_dir, config.api_listen) == (
        None, tmp_path / "c/apsis/jobs", tmp_path / "c/apsis/jobs", tmp_path / "s/apsis",
        ("unix:/run/user/7/apsis/api.sock",))
    # No operators' group: a user's apsisd is theirs alone (root's is the group apsis's too).
    assert config.api_group is None
    if not Path("/etc/apsis/apsisd.toml").exists():  # root's own file would say otherwise
        assert load_config(None, privileged=True, env={}).api_group == "apsis"
    # Without the variables (or with relative ones, which the XDG spec says to ignore): under $HOME; the socket
    # then goes into the state folder, the only folder of the user's own apsisd is sure to have.
    config = load_config(None, privileged=False, env={"HOME": str(tmp_path), "XDG_STATE_HOME": "rel"})
    assert (config.jobs_dir, config.state_dir, config.api_listen) == (
        tmp_path / ".config/apsis/jobs", tmp_path / ".local/state/apsis",
        (f"unix:{tmp_path}/.local/state/apsis/api.sock",))


def test_the_default_user_file_is_read_when_it_exists(tmp_path: Path) -> None:
    (tmp_path / "apsis").mkdir()
    (tmp_path / "apsis" / "apsisd.toml").write_text('log_level = "debug"\n')
    config = load_config(None, privileged=False, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert (config.file, config.log_level) == (tmp_path / "apsis" / "apsisd.toml", LogLevel.DEBUG)


def test_every_key_and_relative_paths_from_the_file_s_folder(tmp_path: Path) -> None:
    file = tmp_path / "conf" / "apsisd.toml"
    file.parent.mkdir()
    file.write_text('''
jobs_dir = "jobs"
calendars_dir = "/srv/calendars"
state_dir = "../state"
log_level = "warning"
schedule.horizon = "2h"
schedule.max_scheduled = 3
schedule.catchup = "all"
schedule.max_age = 600
waiting = { max_time = "1h" }
api.listen = ["unix:api.sock", "tcp:localhost:5050", "tcp:[0:0::1]:80", "tcp:10.0.0.1:1"]
api.group = "ops"
api.admin_group = "wheel"
api.others = "read"
api.adhoc_users = ["batch", " ci "]
api.tokens = "tokens"
api.tls_cert = "/etc/ssl/apsis.pem"
api.tls_key = "../key.pem"
api.max_connections_per_caller = 8
api.max_connections = 100
api.max_streams_per_caller = 2
api.max_streams = 20
api.idle_timeout = "1m"
api.request_timeout = 5
[web]
session_lifetime = "8h"
origin = "https://Apsis.example.com:443/"
[reload]
watch = false
debounce = "2s"
max_delay = "2s"
[metrics]
per_job_limit = 0
[ssh]
known_hosts = "hosts.known"
''')
    assert load_config(file, privileged=True, env={}) == Config(
        file=file, jobs_dir=tmp_path / "conf/jobs", calendars_dir=Path("/srv/calendars"),
        state_dir=tmp_path / "conf/../state", log_level=LogLevel.WARNING,
        schedule=Scheduling(horizon=7200.0, max_scheduled=3, catchup=CatchUp.ALL, max_age=600.0),
        waiting_max_time=3600.0,
        api_listen=(f"unix:{tmp_path}/conf/api.sock", "tcp:localhost:5050", "tcp:[::1]:80", "tcp:10.0.0.1:1"),
        api_group="ops", api_admin_group="wheel", api_others="read", api_adhoc_users=frozenset({"batch", "ci"}),
        api_tokens=tmp_path / "conf/tokens",
        api_tls_cert=Path("/etc/ssl/apsis.pem"), api_tls_key=tmp_path / "conf/../key.pem",
        api_limits=ApiLimits(max_connections_per_caller=8, max_connections=100, max_streams_per_caller=2,
                             max_streams=20, idle_timeout=60.0, request_timeout=5.0),
        web_session_lifetime=28800.0, web_origin="https://apsis.example.com", reload_watch=False,
        reload_debounce=2.0, reload_max_delay=2.0, metrics_per_job_limit=0,
        ssh_known_hosts=tmp_path / "conf/hosts.known")
    assert load_config(file, privileged=True, env={}).calendar_folders() == (Path("/srv/calendars"),)


def test_the_command_line_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "apsisd.toml"
    file.write_text('jobs_dir = "/srv/jobs"\nstate_dir = "/srv/state"\nlog_level = "error"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(file, privileged=True, env={}, overrides=Overrides(
        jobs_dir=Path("mine"), state_dir=Path("/s"), log_level=LogLevel.DEBUG))
    assert (config.jobs_dir, config.calendars_dir, config.state_dir, config.log_level) == (
        tmp_path / "mine", tmp_path / "mine", Path("/s"), LogLevel.DEBUG)
    assert config.calendar_folders() == ()  # the jobs folder's calendars are read with it
    # The state folder given on the command line also holds a user's socket when there is no runtime folder.
    user = load_config(None, privileged=False, env={"HOME": str(tmp_path)}, overrides=Overrides(
        state_dir=Path("st"), calendars_dir=Path("cal")))
    assert (user.api_listen, user.calendars_dir) == ((f"unix:{tmp_path}/st/api.sock",), tmp_path / "cal")


def test_a_named_file_must_exist_and_be_readable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"none\.toml: no such configuration file; give an existing file"):
        load_config(tmp_path / "none.toml", privileged=True, env={})
    with pytest.raises(ConfigError, match=r": cannot read the configuration: Is a directory"):
        load_config(tmp_path, privileged=True, env={})
    (tmp_path / "latin.toml").write_bytes(b'jobs_dir = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml: the configuration is not UTF-8 text \(byte 15\)"):
        load_config(tmp_path / "latin.toml", privileged=True, env={})


@pytest.mark.parametrize(("text", "problem"), [
    ('jobs_dir = "a"\nstate_dir = \n', "2: not valid TOML: Invalid value (column 13)"),
    ("[api]\nlisten = [1,\n", "2: not valid TOML: Invalid value (at the end of the file)"),
])
def test_a_toml_syntax_error_has_its_line(tmp_path: Path, text: str, problem: str) -> None:
    assert problems(tmp_path / "apsisd.toml", text) == [problem]


def test_every_problem_at_once_each_with_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '''\
jobs = "/srv/jobs"
log_level = "loud"
state_dir = ""
[schedule]
horizon = "soon"
catchup = "some"
bogus = 1
[api]
listen = [
  "unix:/ok.sock",
  "http://x",
]
[reload]
debounce = "30s"
[waiting]
max_time = 0
[extra]
''') == [
        "1: jobs: unknown key; allowed here: api, calendars_dir, host_groups, hosts, jobs_dir, log_level, "
        "metrics, reload, schedule, ssh, state_dir, waiting, web",
        "2: log_level: must be one of debug, info, warning, error, critical, not a string 'loud'",
        "3: state_dir: must be the path of a folder, as a string, not a string ''",
        "5: schedule.horizon: 'soon' is not a duration; use a number of seconds or a duration such as 90s, 15m, "
        "4h, 1d or 1h30m",
        "6: schedule.catchup: must be one of all, latest, none, not a string 'some'",
        "7: schedule.bogus: unknown key; allowed here: catchup, horizon, max_age, max_scheduled",
        "11: api.listen[1]: 'http://x' is not an address; write unix:/PATH or tcp:HOST:PORT, such as "
        "unix:/run/apsis/api.sock or tcp:127.0.0.1:5050",
        "13: reload.max_delay: is 10s, shorter than debounce (30s); make it at least as long",
        "16: waiting.max_time: must be a duration above zero such as 30m, 1d, not a number 0",
        "17: extra: unknown key; allowed here: api, calendars_dir, host_groups, hosts, jobs_dir, log_level, "
        "metrics, reload, schedule, ssh, state_dir, waiting, web",
    ]


def test_dotted_keys_and_inline_tables_have_their_lines(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '\n\nschedule.nope = 1\napi = { listen = "x", more = 2 }\n'
                    'waiting = 5\n') == [
        "3: schedule.nope: unknown key; allowed here: catchup, horizon, max_age, max_scheduled",
        "4: api.listen: 'x' is not an address; write unix:/PATH or tcp:HOST:PORT, such as "
        "unix:/run/apsis/api.sock or tcp:127.0.0.1:5050",
        "4: api.more: unknown key; allowed here: adhoc_users, admin_group, group, idle_timeout, listen, "
        "max_connections, max_connections_per_caller, max_streams, max_streams_per_caller, others, request_timeout, "
        "tls_cert, tls_key, tokens",
        "5: waiting: must be a table of keys, not a number 5",
    ]


@pytest.mark.parametrize(("listen", "message"), [
    ("[]", "must name at least one address"),
    ("[5]", "must be an address as a string"),
    ('"unix:"', "'unix:' is not an address"),
    ('"unix:@abstract"', "unix:@abstract: abstract sockets are not supported"),
    (f'"unix:/{"x" * 107}"', "the path is 108 bytes long, and a socket's may have at most 107"),
    ('"tcp:localhost"', "tcp:localhost: give a port from 1 to 65535 after the host"),
    ('"tcp:localhost:0"', "give a port from 1 to 65535"),
    ('"tcp:localhost:65536"', "give a port from 1 to 65535"),
    ('"tcp::80"', "'' is not a host name or an IP address"),
    ('"tcp:bad_host:80"', "'bad_host' is not a host name or an IP address"),
    ('"tcp:[1::x]:80"', "[1::x] is not an IPv6 address"),
    ('"tcp:::1:80"', "write an IPv6 address in brackets"),
    ('"tcp:localhost:\u00b2"', "give a port from 1 to 65535"),  # a digit to str.isdigit(), not to int()
    (f'"tcp:localhost:{"9" * 5000}"', "give a port from 1 to 65535"),  # past int()'s 4300 digits
])
def test_bad_listen_addresses(tmp_path: Path, listen: str, message: str) -> None:
    [problem] = problems(tmp_path / "apsisd.toml", f"[api]\nlisten = {listen}\n")
    assert problem.startswith("2: api.listen") and message in problem


def test_one_listen_address_may_be_given_bare(tmp_path: Path) -> None:
    (tmp_path / "apsisd.toml").write_text('api.listen = "tcp:127.0.0.1:5050"\napi.tokens = "t"\n')
    assert load_config(tmp_path / "apsisd.toml", privileged=True, env={}).api_listen == ("tcp:127.0.0.1:5050",)


def test_the_shipped_file_is_valid_and_shows_root_s_defaults(tmp_path: Path) -> None:
    text = ETC.read_text()
    assert load_config(ETC, privileged=True, env={}) == replace(ROOT, file=ETC)
    # Every `# key = value` line, uncommented, is the default it says; every key is shown, set or as an example.
    # Past HOSTS_INTRO, the keys of the tables of remote hosts and groups, which have no defaults without one.
    settings, tables = text.split(HOSTS_INTRO)
    uncommented = tmp_path / "apsisd.toml"
    uncommented.write_text(re.sub(r"^# (\w+ = )", r"\1", settings, flags=re.MULTILINE))
    assert load_config(uncommented, privileged=True, env={}) == replace(ROOT, file=uncommented)
    # Their headers, their defaults and the examples of their required keys uncommented: one host, one group.
    tables = tables.replace("[hosts.NAME]", "[hosts.one]").replace("[host_groups.NAME]", "[host_groups.one-group]")
    tables = re.sub(r"^#(?: |   (?=ssh|hosts))(\w+ = |\[)", r"\1", tables, flags=re.MULTILINE)
    uncommented.write_text(tables.replace('["db1", "db2"]', '["one"]'))
    assert load_config(uncommented, privileged=True, env={}).hosts == HostTable(
        hosts={"one": HostSettings(name="one", ssh="root@db1.example")},
        groups={"one-group": HostGroup(name="one-group", hosts=("one",))})
    shown = set(re.findall(r"^#\s+(\w+) = ", text, flags=re.MULTILINE))
    assert shown == {"jobs_dir", "calendars_dir", "state_dir", "log_level", "horizon", "max_scheduled", "catchup",
                     "max_age", "max_time", "listen", "group", "admin_group", "others", "adhoc_users", "tokens",
                     "tls_cert", "tls_key", "max_connections_per_caller", "max_connections", "max_streams_per_caller",
                     "max_streams", "idle_timeout", "request_timeout", "session_lifetime", "origin", "watch",
                     "debounce", "max_delay",
                     "per_job_limit", "known_hosts", "ssh", "port", "identity", "agentd", "connect_timeout",
                     "keepalive_interval", "keepalive_count", "unreachable_after", "hosts", "pick"}


def test_log_levels_are_python_s() -> None:
    assert [level.number for level in LogLevel] == [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                                                    logging.CRITICAL]


def test_the_api_s_group_and_what_others_may_do_are_checked(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '[api]\ngroup = ""\nothers = "write"\nadmin_group = 0\n'
                                              'adhoc_users = ["batch", "0", 1]\n') == [
        "2: api.group: must be the name of a group, such as apsis, not a string ''",
        "3: api.others: must be one of 'none', 'read', not a string 'write'",
        "4: api.admin_group: must be the name of a group, such as apsis, not a number 0",
        "5: api.adhoc_users[1]: must be a user's name (not a uid), such as batch, not a string '0'",
        "5: api.adhoc_users[2]: must be a user's name (not a uid), such as batch, not a number 1",
    ]
    (tmp_path / "one.toml").write_text('api.adhoc_users = "batch"\n')
    assert load_config(tmp_path / "one.toml", privileged=True, env={}).api_adhoc_users == frozenset({"batch"})



@pytest.mark.parametrize(("value", "described"), [
    ("-1", "a number -1"), ("1.5", "a number 1.5"), ("true", "a boolean True"), ('"100"', "a string '100'")])
def test_the_metrics_per_job_limit_is_a_count_of_jobs(tmp_path: Path, value: str, described: str) -> None:
    assert problems(tmp_path / "apsisd.toml", f"[metrics]\nper_job_limit = {value}\n") == [
        f"2: metrics.per_job_limit: must be a whole number of jobs, 0 or more, not {described}"]

def test_tcp_needs_tokens_and_off_loopback_tls(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", """\
[api]
listen = [
  "unix:/run/apsis/api.sock",
  "tcp:127.0.0.1:5050",
  "tcp:0.0.0.0:5051",
  "tcp:[::1]:5052",
  "tcp:apsis.example.com:5053",
]
""") == [
        "4: api.listen[1]: tcp:127.0.0.1:5050: TCP needs bearer tokens: set tokens to the tokens file (apsis token "
        "new makes a token and its line)",
        "5: api.listen[2]: tcp:0.0.0.0:5051: TCP needs bearer tokens: set tokens to the tokens file (apsis token "
        "new makes a token and its line)",
        "5: api.listen[2]: tcp:0.0.0.0:5051: other machines may reach it: set tls_cert and tls_key (only a loopback "
        "address, 127.0.0.1, ::1 or localhost, may go without TLS)",
        "6: api.listen[3]: tcp:[::1]:5052: TCP needs bearer tokens: set tokens to the tokens file (apsis token new "
        "makes a token and its line)",
        "7: api.listen[4]: tcp:apsis.example.com:5053: TCP needs bearer tokens: set tokens to the tokens file "
        "(apsis token new makes a token and its line)",
        "7: api.listen[4]: tcp:apsis.example.com:5053: other machines may reach it: set tls_cert and tls_key (only "
        "a loopback address, 127.0.0.1, ::1 or localhost, may go without TLS)",
    ]


@pytest.mark.parametrize("address", ["tcp:127.0.0.1:5050", "tcp:127.8.9.10:5050", "tcp:[::1]:5050",
                                     "tcp:localhost:5050"])
def test_a_loopback_address_may_go_without_tls(tmp_path: Path, address: str) -> None:
    (tmp_path / "apsisd.toml").write_text(f'[api]\nlisten = "{address}"\ntokens = "api-tokens"\n')
    config = load_config(tmp_path / "apsisd.toml", privileged=True, env={})
    assert (config.api_listen, config.api_tokens, config.api_tls_cert) == ((address,), tmp_path / "api-tokens", None)


def test_any_address_with_tls_and_tokens(tmp_path: Path) -> None:
    (tmp_path / "apsisd.toml").write_text('[api]\nlisten = ["tcp:0.0.0.0:443", "tcp:[::]:443"]\ntokens = "t"\n'
                                          'tls_cert = "c.pem"\ntls_key = "k.pem"\n')
    config = load_config(tmp_path / "apsisd.toml", privileged=True, env={})
    assert (config.api_tls_cert, config.api_tls_key) == (tmp_path / "c.pem", tmp_path / "k.pem")


def test_a_certificate_needs_its_key_and_the_paths_are_checked(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '[api]\ntls_cert = "c.pem"\ntokens = 5\n') == [
        "2: api.tls_cert: is set without tls_key; set both (the certificate and its private key) or neither",
        "3: api.tokens: must be the path of a file, as a string, not a number 5",
    ]
    assert problems(tmp_path / "apsisd.toml", '[api]\ntls_key = ""\n') == [
        "2: api.tls_key: must be the path of a file, as a string, not a string ''",
        "2: api.tls_key: is set without tls_cert; set both (the certificate and its private key) or neither",
    ]


def test_nesting_too_deep_for_tomllib_is_a_problem(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", "x = " + "[" * 5000 + "]" * 5000 + "\n") == [
        "1: not valid TOML: arrays or tables nested too deeply to read; a configuration needs two levels"]


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    file = tmp_path / "apsisd.toml"
    file.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than 1 MiB, the most a configuration file may be"):
        load_config(file, privileged=True, env={})


TOML_PIECES = st.sampled_from([
    "[api]\n", "[schedule]\n", "[reload]\n", "[[x]]\n", "listen", "jobs_dir", "horizon", "debounce", "per_job_limit",
    " = ", "\n", '"', "'", '"""', "[", "]", "{", "}", ",", ".", "#", "9" * 400, "1e400", "inf", "nan", "-",
    "tcp:localhost:", "unix:/x", "\u00b2", "1979-05-27T07:32:00Z", "true", "\\", "\x00", "\ud800", "1h",
])


@settings(max_examples=200, deadline=2000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(TOML_PIECES, max_size=40))
def test_fuzz_the_configuration_gives_a_config_or_problems(tmp_path: Path, pieces: list[str]) -> None:
    file = tmp_path / "apsisd.toml"
    file.write_bytes("".join(pieces).encode("utf-8", "surrogatepass"))
    try:
        load_config(file, privileged=True, env={})
    except (InvalidFiles, ConfigError) as exc:
        assert str(exc)


def test_the_api_s_caps_are_counts_and_its_timeouts_durations(tmp_path: Path) -> None:
    assert problems(tmp_path / "apsisd.toml", '[api]\nmax_connections = 0\nmax_streams = "many"\nidle_timeout = 0\n'
                    'request_timeout = "soon"\n') == [
        "2: api.max_connections: must be a whole number, 1 or more, not a number 0",
        "3: api.max_streams: must be a whole number, 1 or more, not a string 'many'",
        "4: api.idle_timeout: must be a duration above zero such as 30m, 1d, not a number 0",
        "5: api.request_timeout: "
        + problems(tmp_path / "other.toml", 'waiting.max_time = "soon"')[0].split(": ", 2)[2],
    ]
