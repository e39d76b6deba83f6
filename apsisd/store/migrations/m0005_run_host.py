"""The host a run ran on (issue 14): a host of apsisd.toml's `[hosts.NAME]`, or local, apsisd's own. Before a run
is bound it is NULL, or, for an ad hoc run asked to go to one, the host or group named.

Every run of an older database that reached `starting` ran on apsisd's own host, the only one there was: those
are recorded as `local`, so a run in flight across the upgrade is followed where it is.
"""

SQL = """
ALTER TABLE runs ADD COLUMN host TEXT;
UPDATE runs SET host = 'local' WHERE json_extract(times, '$.starting') IS NOT NULL;
"""
