"""Actions owed: a run's transition and the actions it calls for are committed together, and an action is
crossed off when it has run, so a crash between the two does not lose it (it runs on the next start)."""

SQL = """
CREATE TABLE pending_actions (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    PRIMARY KEY (run_id, state)
) WITHOUT ROWID;
"""
