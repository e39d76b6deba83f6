"""Job ids like one that is not loaded: the hint a 404 gives (the API's, the job page's)."""
from __future__ import annotations

import bisect
import difflib
from collections.abc import Collection

HINT_POOL = 500  # ids compared for a hint: difflib takes up to 0.1 ms an id


def close_matches(job_id: str, loaded: Collection[str]) -> list[str]:
    """Up to three loaded ids like `job_id`: of its folder's (or, with none there, of all), the HINT_POOL
    nearest in sort order, so a folder of 100,000 jobs answers a typo at once."""
    folder = job_id.rpartition("/")[0]
    pool = sorted(other for other in loaded if other.rpartition("/")[0] == folder) or sorted(loaded)
    if len(pool) > HINT_POOL:
        start = min(max(bisect.bisect(pool, job_id) - HINT_POOL // 2, 0), len(pool) - HINT_POOL)
        pool = pool[start:start + HINT_POOL]
    return difflib.get_close_matches(job_id, pool, n=3)
