"""A run's story as the journal tells it: PID 1's records of its unit, and apsis's own notes about it."""
from __future__ import annotations

from typing import Any

from agentd.local.tracker import Tracker
from agentd.systemd import journal, trust


async def journal_story(tracker: Tracker, *, user_manager: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """PID 1's records of the unit, and apsis's notes about the run, all synced first; none from before the run
    was committed to start (`since`: an earlier run's of the same name)."""
    await journal.sync()
    records = [r async for r in journal.read(trust.manager_records(tracker.unit, user_manager=user_manager),
                                             user=user_manager, since=tracker.since)]
    notes = [r async for r in journal.read(trust.own_notes(tracker.run_id), user=user_manager,
                                           since=tracker.since)]
    return records, notes


def note(tracker: Tracker, action: str, message: str, **fields: str) -> dict[str, str]:
    """A note of apsis's about the run (a stop or a signal asked), for whoever reads its story later."""
    return {"MESSAGE": message, "PRIORITY": "5", "SYSLOG_IDENTIFIER": "apsisd",
            "APSIS_RUN_ID": tracker.run_id, "APSIS_ACTION": action, "UNIT": tracker.unit, **fields}
