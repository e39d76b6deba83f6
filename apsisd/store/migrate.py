"""Schema versions: find the migrations, refuse a database newer than this code, apply what is missing.

`PRAGMA user_version` is the version of the schema in the file (0 for a new
file). Each migration runs in its own transaction together with the bump of
that number, so a crash or an error in the middle leaves the database at
the version before it, whole; the next start tries again. Apsis had a
separate script to run by hand; here opening the store is enough.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from apsisd.errors import StoreError
from apsisd.store import migrations as migrations_package

log = logging.getLogger(__name__)

_MODULE = re.compile(r"m(\d{4})_\w+\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One step of the schema: exactly one of `sql` (a script) and `apply` (a function of the connection)."""

    version: int
    name: str
    doc: str
    sql: str | None = None
    apply: Callable[[sqlite3.Connection], None] | None = None


def available() -> list[Migration]:
    """The migrations shipped in apsisd/store/migrations/, in order; StoreError if the folder is inconsistent."""
    found = []
    for info in pkgutil.iter_modules(migrations_package.__path__):
        match = _MODULE.match(info.name)
        if match:
            module = importlib.import_module(f"{migrations_package.__name__}.{info.name}")
            found.append(_from_module(int(match[1]), info.name, module))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"schema migrations are numbered {versions}; they must be 1, 2, 3 ... without gaps or "
                         "repeats (a broken installation of apsis?)")
    return found


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_not_newer(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> int:
    """The file's schema version; StoreError if a newer apsis wrote it (nothing here may touch it then)."""
    version = current_version(conn)
    latest = len(migrations)
    if version > latest:
        raise StoreError(f"{path}: the database has schema version {version}, but this apsis knows versions up to "
                         f"{latest} only: it was written by a newer apsis. Upgrade apsis to that version or later "
                         "(or point state_dir at another folder); a schema is never migrated backwards")
    return version


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> int:
    """Apply every migration above the file's version, each in its own transaction; the version reached."""
    version = check_not_newer(conn, path, migrations)
    for migration in migrations[version:]:
        try:
            _apply(conn, migration)
        except Exception as exc:
            raise StoreError(f"{path}: schema migration {migration.version} ({migration.name}) failed: {exc}. "
                             f"The database stays at version {migration.version - 1}, with nothing of this "
                             "migration written") from exc
        log.info("store %s: schema migrated to version %d (%s)", path, migration.version, migration.name,
                 extra={"action": "store_migrated"})
        version = migration.version
    return version


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    bump = f"PRAGMA user_version = {int(migration.version)}"
    try:
        if migration.sql is not None:
            # executescript commits whatever is open before it runs, so the transaction is part of the script.
            conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}\n;\n{bump};\nCOMMIT;")
        else:
            assert migration.apply is not None
            conn.execute("BEGIN IMMEDIATE")
            migration.apply(conn)
            conn.execute(bump)
            conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _from_module(version: int, name: str, module: ModuleType) -> Migration:
    sql = getattr(module, "SQL", None)
    apply = getattr(module, "apply", None)
    if not (module.__doc__ or "").strip() or (sql is None) == (apply is None):
        raise StoreError(f"schema migration {name} must have a docstring and exactly one of SQL and apply()")
    return Migration(version=version, name=name, doc=module.__doc__ or "", sql=sql, apply=apply)
