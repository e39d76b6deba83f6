"""One long-lived D-Bus connection to systemd: deadlines on every call, and reconnects.

dbus-fast (like dbus-next) has no call timeouts and no reconnect, and its
proxies leak match rules; so this uses the low-level Message API only, adds
its own match rules (awaited, before Subscribe), and on a lost connection
connects again, restores matches and subscription, then tells its owner to
re-check what it follows (signals sent while it was away are gone).
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from dbus_fast import BusType, Message, MessageFlag, MessageType
from dbus_fast.aio import MessageBus

from agentd.errors import HostError
from agentd.systemd.units import SD_PATH, UNIT_PATH_PREFIX

log = logging.getLogger(__name__)

SD = "org.freedesktop.systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
SERVICE_IFACE = "org.freedesktop.systemd1.Service"
JOB_IFACE = "org.freedesktop.systemd1.Job"
PROPERTIES = "org.freedesktop.DBus.Properties"
NO_SUCH_UNIT = "org.freedesktop.systemd1.NoSuchUnit"
UNIT_EXISTS = "org.freedesktop.systemd1.UnitExists"
BAD_UNIT_SETTING = "org.freedesktop.systemd1.BadUnitSetting"
ALREADY_SUBSCRIBED = "org.freedesktop.systemd1.AlreadySubscribed"

MATCH_RULES = (
    # systemd itself may leave the bus and come back (it reconnects when the bus drops it): it then forgets
    # its subscribers, and we must subscribe again and re-check what we follow.
    f"type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',"
    f"arg0='{SD}'",
    f"type='signal',sender='{SD}',path='{SD_PATH}',interface='{MANAGER}',member='JobRemoved'",
    # A daemon-reload re-reads every unit's file (and tells no unit's PropertiesChanged for it): its end,
    # Reloading(false), is when to look at what was re-read.
    f"type='signal',sender='{SD}',path='{SD_PATH}',interface='{MANAGER}',member='Reloading'",
    f"type='signal',sender='{SD}',interface='{PROPERTIES}',member='PropertiesChanged',"
    f"path_namespace='{UNIT_PATH_PREFIX.rstrip('/')}'",
)
# The system bus allows 128 pending replies per connection; stay well under.
MAX_IN_FLIGHT = 64


# What the bus answers for systemd while it is away (re-executing, restarting): whether it did what was asked
# is not known.
SYSTEMD_AWAY = frozenset({
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Disconnected",
})


class UnansweredCall(HostError):
    """The call got no answer from systemd (it went away, or our connection did): it may or may not be done."""


class BusCallError(HostError):
    """systemd answered a call with an error."""

    def __init__(self, member: str, name: str, text: str) -> None:
        super().__init__(f"systemd refused {member}: {text} ({name})")
        self.name = name
        self.text = text


def bus_address(user_manager: bool) -> str | None:
    """Where the manager's bus is: the system bus, or the user's own session bus."""
    if not user_manager:
        return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    return f"unix:path={runtime}/bus"


def _log_unsent(written: asyncio.Future[None]) -> None:
    if not written.cancelled() and written.exception() is not None:
        log.debug("a call to systemd was not sent: %s", written.exception())


class SystemdBus:
    """The connection to systemd's manager; hands every signal to `on_signal`, synchronously."""

    def __init__(
        self,
        *,
        user_manager: bool,
        on_signal: Callable[[Message], None],
        on_reconnect: Callable[[], Awaitable[None]],
        call_timeout: float = 30.0,
    ) -> None:
        self.user_manager = user_manager
        self._on_signal = on_signal
        self._on_reconnect = on_reconnect
        self.call_timeout = call_timeout
        self._bus: MessageBus | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._background: set[asyncio.Task[None]] = set()
        self._supervisor: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Connect, match, subscribe; then keep the connection up until close()."""
        await self._connect_once()
        self._supervisor = asyncio.create_task(self._supervise(), name="systemd-bus-supervisor")

    async def _connect_once(self) -> None:
        address = bus_address(self.user_manager)
        bus_type = BusType.SESSION if self.user_manager else BusType.SYSTEM
        bus = MessageBus(bus_address=address, bus_type=bus_type)
        async with asyncio.timeout(self.call_timeout):
            await bus.connect()
        bus.add_message_handler(self._dispatch)
        self._bus = bus
        try:
            for rule in MATCH_RULES:
                await self._raw_call(
                    Message(
                        destination="org.freedesktop.DBus",
                        path="/org/freedesktop/DBus",
                        interface="org.freedesktop.DBus",
                        member="AddMatch",
                        signature="s",
                        body=[rule],
                    )
                )
            await self._subscribe()
        except BaseException:
            bus.disconnect()
            raise
        self._connected.set()

    def _dispatch(self, message: Message) -> None:
        if message.message_type == MessageType.SIGNAL and message.member == "NameOwnerChanged":
            if message.body and message.body[0] == SD and message.body[2]:
                task = asyncio.get_running_loop().create_task(self._resubscribe(), name="systemd-resubscribe")
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            return
        if message.message_type == MessageType.SIGNAL:
            try:
                self._on_signal(message)
            except Exception:
                log.exception("handling %s from systemd failed", message.member)
        # None: never stop other handlers (the reply handlers) from seeing it.

    async def _subscribe(self) -> None:
        """Ask systemd for its signals; already subscribed is as good (systemd joining the bus as we connect
        makes both connect() and _resubscribe() ask)."""
        try:
            await self._raw_call(Message(destination=SD, path=SD_PATH, interface=MANAGER, member="Subscribe"))
        except BusCallError as exc:
            if exc.name != ALREADY_SUBSCRIBED:
                raise

    async def _resubscribe(self) -> None:
        """systemd came back on the bus without us losing ours: subscribe again, then re-check every run."""
        log.warning("systemd reconnected to the bus; subscribing again", extra={"action": "systemd_rejoined"})
        try:
            await self._subscribe()
            await self._on_reconnect()
        except Exception:
            log.exception("subscribing again to systemd failed")

    async def _supervise(self) -> None:
        while not self._closing:
            assert self._bus is not None
            try:
                await self._bus.wait_for_disconnect()
            except Exception as exc:
                log.warning("D-Bus connection to systemd lost: %s", exc, extra={"action": "bus_lost"})
            else:
                if not self._closing:
                    log.warning("D-Bus connection to systemd lost", extra={"action": "bus_lost"})
            self._connected.clear()
            if self._closing:
                return
            delay = 0.05
            while not self._closing:
                try:
                    await self._connect_once()
                except Exception as exc:
                    log.warning("reconnecting to systemd failed: %s; retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                log.info("reconnected to systemd", extra={"action": "bus_reconnected"})
                try:
                    await self._on_reconnect()
                except Exception:
                    log.exception("re-checking runs after reconnect failed")
                break

    def drop(self) -> None:
        """Break the connection as a crash of the bus would (tests use it; so may a watchdog)."""
        if self._bus is not None:
            self._connected.clear()
            self._bus.disconnect()

    async def close(self) -> None:
        self._closing = True
        if self._bus is not None:
            self._bus.disconnect()
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass

    async def _raw_call(self, message: Message) -> list[Any]:
        bus = self._bus
        if bus is None:
            raise HostError("not connected to systemd")
        async with self._slots, asyncio.timeout(self.call_timeout):
            reply = await bus.call(message)
        if reply is None:
            return []
        if reply.message_type == MessageType.ERROR:
            text = reply.body[0] if reply.body else reply.error_name
            raise BusCallError(message.member or "?", reply.error_name or "error", str(text))
        return list(reply.body)

    async def call(
        self,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
        *,
        path: str = SD_PATH,
        interface: str = MANAGER,
    ) -> list[Any]:
        """Call systemd; waits out a reconnect, but never longer than the call timeout."""
        try:
            async with asyncio.timeout(self.call_timeout):
                await self._up()
        except TimeoutError:
            raise HostError(f"no connection to systemd for {self.call_timeout:.0f}s") from None
        try:
            return await self._raw_call(
                Message(destination=SD, path=path, interface=interface, member=member,
                        signature=signature, body=list(body))
            )
        except TimeoutError:
            raise HostError(f"systemd did not answer {member} within {self.call_timeout:.0f}s") from None
        except (OSError, EOFError) as exc:
            raise UnansweredCall(f"connection to systemd lost during {member}: {exc}") from exc

    async def _up(self) -> None:
        """Until connected: a connection already broken, that the supervisor has not yet seen go, is not one (a call
        sent on it would fail, not wait for the reconnect)."""
        while True:
            await self._connected.wait()
            if self._bus is not None and self._bus.connected:
                return
            self._connected.clear()

    def tell(self, member: str, signature: str, body: Sequence[Any]) -> None:
        """Call systemd without waiting for, or wanting, an answer.

        For the calls whose failure changes nothing for us (releasing a unit
        we have read): no reply crosses the bus, which halves their cost.
        Dropped when the connection is down; a reconnect re-checks anyway.
        """
        if self._bus is None or not self._connected.is_set() or not self._bus.connected:
            return
        written = self._bus.send(Message(destination=SD, path=SD_PATH, interface=MANAGER, member=member,
                                         signature=signature, body=list(body),
                                         flags=MessageFlag.NO_REPLY_EXPECTED))
        written.add_done_callback(_log_unsent)

    async def get(self, path: str, interface: str, name: str) -> Any:
        (variant,) = await self.call("Get", "ss", [interface, name], path=path, interface=PROPERTIES)
        return variant.value

    async def get_all(self, path: str, interface: str) -> dict[str, Any]:
        (props,) = await self.call("GetAll", "s", [interface], path=path, interface=PROPERTIES)
        return {k: v.value for k, v in props.items()}
