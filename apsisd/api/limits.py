"""How a connection tells the API it is answering: the API's side of the limits on idle connections and on
answers that last (the limits themselves, ApiLimits, are settings: apsisd/config/api_limits.py)."""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable


@runtime_checkable
class Answering(Protocol):
    """A connection that times its idleness (daemon/connection.py): the API says when it answers a request, and
    which answers last (they end with it)."""

    def answering(self) -> AbstractContextManager[None]:
        """Within this, a request of the connection is being answered: it is not idle."""

    def lasting(self) -> AbstractContextManager[None]:
        """Within this, the current task is cancelled as soon as the connection is lost (at once if it is)."""
