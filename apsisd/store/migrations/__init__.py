"""The schema's history: one module per version, `m0001_initial.py`, `m0002_...`, applied in order.

Each module has a docstring saying what it changes, and either `SQL` (a
script) or `def apply(conn)` (for changes SQL alone cannot make; it must use
conn.execute, never executescript or its own transaction). A migration, once
released, is never edited: a later change is a new module. See
apsisd/store/migrate.py for how they are found and applied.
"""
