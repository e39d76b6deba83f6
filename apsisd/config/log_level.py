"""The `log_level` setting's values: Python's levels, by name."""
from __future__ import annotations

import enum
import logging


class LogLevel(enum.StrEnum):
    """The least severe messages apsisd writes."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def number(self) -> int:
        """The level as the logging module counts it."""
        return logging.getLevelNamesMapping()[self.name]
