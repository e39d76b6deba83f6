"""`apsis run`'s request body: --host goes with an ad hoc run (its host or group), and is refused for a job's run,
whose runs go to its file's host:."""
from __future__ import annotations

from typing import Any, cast

import pytest

from apsisd.cli.launch import _request
from apsisd.cli.session import Failed, Session

NO_SESSION = cast(Session, None)  # only --at reads it


def body(*words: str, **options: Any) -> dict[str, Any]:
    return _request(words, options.pop("argv", False), options.pop("command", None), options.pop("name", None),
                    None, NO_SESSION, options.pop("host", None))


def test_an_ad_hoc_run_names_its_host_or_group() -> None:
    assert body(command="vacuumdb --all", host="db1") == {"program": "vacuumdb --all", "host": "db1"}
    assert body("/bin/true", argv=True, host="dbs", name="check") == {"program": ["/bin/true"], "name": "check",
                                                                      "host": "dbs"}
    assert body(command="true") == {"program": "true"}  # no host: apsisd's own (local)


def test_a_job_s_run_takes_no_host() -> None:
    with pytest.raises(Failed, match=r"^--host is for an ad hoc run \(--shell or -- ARGV\); a job's runs go to its "
                                     r"host:$"):
        body("etl/load", "date=2026-03-09", host="db1")
    assert body("etl/load", "date=2026-03-09") == {"job_id": "etl/load", "args": {"date": "2026-03-09"}}
