"""Actions owed, each marked once it has run: an action that makes a run (`schedule`) commits the run together
with its mark, so the next start after a crash, which runs the owed actions again, skips it rather than making
the run twice. Crossing off the owed transition removes its marks.

`action` is the action's place in its job's actions (0 for the first).
"""

SQL = """
CREATE TABLE actions_ran (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    action INTEGER NOT NULL,
    PRIMARY KEY (run_id, state, action)
) WITHOUT ROWID;
"""
