"""Names for the identifiers that cross rooms, so signatures say what they hold."""
from typing import NewType

RunId = NewType("RunId", str)
JobId = NewType("JobId", str)
