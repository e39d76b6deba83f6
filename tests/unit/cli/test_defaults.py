"""Where check-jobs and next look without a folder given: apsisd.toml's `jobs_dir`, else the default folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from apsisd.cli.defaults import ConfigError, Folders, folders, local_zone


def test_root_defaults_to_etc_apsis(tmp_path: Path) -> None:
    # /etc/apsis/apsisd.toml does not exist on a test machine; if it does, this test says nothing about it.
    if Path("/etc/apsis/apsisd.toml").exists():
        pytest.skip("this machine has an /etc/apsis/apsisd.toml")
    assert folders({}, euid=0) == Folders(jobs=Path("/etc/apsis/jobs"))


def test_others_default_to_their_xdg_config_folder(tmp_path: Path) -> None:
    assert folders({"XDG_CONFIG_HOME": str(tmp_path)}, euid=1000) == Folders(jobs=tmp_path / "apsis" / "jobs")
    assert folders({"HOME": str(tmp_path)}, euid=1000) == Folders(jobs=tmp_path / ".config" / "apsis" / "jobs")


def test_the_user_config_file_is_read_when_it_exists(tmp_path: Path) -> None:
    (tmp_path / "apsis").mkdir()
    (tmp_path / "apsis" / "apsisd.toml").write_text('jobs_dir = "/srv/jobs"\ncalendars_dir = "cal"\n')
    assert folders({"XDG_CONFIG_HOME": str(tmp_path)}, euid=1000) == Folders(
        jobs=Path("/srv/jobs"), calendars=(tmp_path / "apsis" / "cal",))


def test_apsis_config_names_the_file_and_relative_paths_follow_it(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "a.toml"
    config.parent.mkdir()
    config.write_text('jobs_dir = "jobs"\n')
    assert folders({"APSIS_CONFIG": str(config)}, euid=0) == Folders(jobs=tmp_path / "conf" / "jobs")
    config.write_text("# no jobs key\n")
    assert folders({"APSIS_CONFIG": str(config), "XDG_CONFIG_HOME": str(tmp_path)}, euid=1000) == Folders(
        jobs=tmp_path / "apsis" / "jobs")
    with pytest.raises(ConfigError, match="no such configuration file"):
        folders({"APSIS_CONFIG": str(tmp_path / "none.toml"), "XDG_CONFIG_HOME": str(tmp_path)}, euid=1000)


@pytest.mark.parametrize(("text", "message"), [
    ("jobs_dir = ", "1: not valid TOML: Invalid value (at the end of the file)"),
    ("jobs_dir = 5", "1: jobs_dir: must be the path of a folder, as a string, not a number 5"),
    ('\ncalendars_dir = ["a"]', "2: calendars_dir: must be the path of a folder, as a string, not a list"),
    ('jobs = "/srv/jobs"', "1: jobs: unknown key; allowed here: "),
])
def test_a_bad_config_file(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "apsisd.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        folders({"APSIS_CONFIG": str(config)}, euid=0)
    assert str(caught.value).startswith(f"{config}:{message}")


def test_local_zone() -> None:
    assert local_zone({"TZ": "Europe/Paris"}).key == "Europe/Paris"
    assert local_zone({"TZ": ":Asia/Tokyo"}).key == "Asia/Tokyo"
    with pytest.raises(ConfigError, match="is not a time zone"):
        local_zone({"TZ": "Nowhere/Else"})
    assert local_zone({}) is not None  # /etc/localtime, whatever this machine has
