"""A job's secrets the systemd way: `credentials:` (LoadCredential=) and `encrypted_credentials:`
(LoadCredentialEncrypted=) reach the program, as any user, at $CREDENTIALS_DIRECTORY/NAME, while what every local
user may read of the unit (`systemctl show`, as nobody) names only their paths; an `env:` value, by contrast, is
there for all to see. Ad hoc programs (an API caller's) may not name files for systemd to read as root."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiohttp

from apsisd.runs.state import State
from tests.integration.api import SOCKET, post
from tests.integration.daemon import Daemon, with_daemon

GO = Path("/run/apsis-test-credentials-go")  # the program ends once it is there
FILE_SECRET, ENCRYPTED_SECRET, ENV_SECRET = "s3cr3t-from-a-file-7c1", "s3cr3t-encrypted-7c2", "s3cr3t-in-env-7c3"


def secret_files(folder: Path) -> tuple[Path, Path]:
    """A plain credential (root's, 0600) and one encrypted by systemd-creds (with the null key: the sandbox has
    no TPM, and a host key would be written to /var/lib, the host's)."""
    plain, encrypted = folder / "token", folder / "db.cred"
    plain.write_text(FILE_SECRET)
    plain.chmod(0o600)
    subprocess.run(["systemd-creds", "encrypt", "--with-key=tpm2-absent", "--name=db", "-", str(encrypted)],
                   input=ENCRYPTED_SECRET, text=True, check=True, capture_output=True, timeout=30)
    encrypted.chmod(0o600)
    assert ENCRYPTED_SECRET not in encrypted.read_text(errors="replace")
    return plain, encrypted


def show_as_nobody(unit: str) -> str:
    """What any local user reads of the unit: every property, and its transient unit file."""
    shown = subprocess.run(["systemctl", "show", unit], user="nobody", group="nogroup", capture_output=True,
                           text=True, check=True, timeout=30, cwd="/").stdout
    unit_file = subprocess.run(["systemctl", "cat", unit], user="nobody", group="nogroup", capture_output=True,
                               text=True, timeout=30, cwd="/").stdout
    return shown + unit_file


async def output(run_id: str) -> bytes:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET)) as client, \
            client.get(f"http://apsis/api/v1/runs/{run_id}/output") as response:
        assert response.status == 200, await response.text()
        return await response.read()


@with_daemon()
async def test_a_job_reads_its_credentials_and_no_local_user_sees_them(daemon: Daemon) -> None:
    plain, encrypted = secret_files(daemon.root)
    daemon.job("creds", f"""
        program:
          type: shell
          command: 'printf "%s\\n" "$(cat "$CREDENTIALS_DIRECTORY/token")" "$(cat "$CREDENTIALS_DIRECTORY/db")"
                    "$(id -un)"; while [ ! -e {GO} ]; do sleep 0.05; done'
          user: nobody
          credentials: {{token: {plain}}}
          encrypted_credentials: {{db: {encrypted}}}
          env: {{LEAKY: {ENV_SECRET}}}
        """)
    await daemon.start()
    status, made = await post("/api/v1/runs", {"job_id": "creds"})
    assert status == 201, made
    (running,) = await daemon.wait_runs(lambda runs: bool(runs) and runs[0].state is State.RUNNING, "creds")
    assert running.unit is not None
    try:
        shown = show_as_nobody(running.unit)
        assert ENV_SECRET in shown  # the threat: env is for everyone to read
        assert FILE_SECRET not in shown and ENCRYPTED_SECRET not in shown
        assert f"LoadCredential=token:{plain}" in shown and f"LoadCredentialEncrypted=db:{encrypted}" in shown
    finally:
        GO.touch()
    (done,) = await daemon.wait_runs(lambda runs: bool(runs) and runs[0].finished, "creds")
    GO.unlink()
    assert done.state is State.SUCCESS, done.reason
    for _ in range(200):  # the journal lags the program a little
        text = await output(done.id)
        if text.count(b"\n") >= 3:
            break
        await asyncio.sleep(0.05)
    assert text == f"{FILE_SECRET}\n{ENCRYPTED_SECRET}\nnobody\n".encode(), text


@with_daemon()
async def test_an_ad_hoc_program_may_not_name_credentials(daemon: Daemon) -> None:
    await daemon.start()
    status, answer = await post("/api/v1/runs", {"program": {"type": "shell", "command": "true",
                                                             "credentials": {"shadow": "/etc/shadow"}}})
    assert status == 400 and answer["error"].startswith("program: credentials are for the jobs of the jobs folder")
    assert await daemon.runs() == []


@with_daemon()
async def test_a_credential_file_that_is_not_there_fails_the_run_at_its_start(daemon: Daemon) -> None:
    daemon.job("missing", f"""
        program:
          type: exec
          argv: [/bin/true]
          credentials: {{token: {daemon.root}/not-there}}
        """)
    await daemon.start()
    status, made = await post("/api/v1/runs", {"job_id": "missing"})
    assert status == 201, made
    (done,) = await daemon.wait_runs(lambda runs: bool(runs) and runs[0].finished, "missing")
    assert (done.state, done.exit_code, done.reason) == (State.FAILURE, 243, "exit code 243")
