"""Every task has a name, and lives in a TaskGroup (agentd.tasks.TaskRoom, or an `async with TaskGroup`) unless
it is one of the few a class owns and awaits itself, listed here with why."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for package in ("apsisd", "agentd") for p in (ROOT / package).rglob("*.py"))

# module -> why its loose tasks are owned (made, cancelled and awaited by one object) rather than grouped.
OWNED = {
    "agentd/tasks.py": "the serving task that holds the TaskRoom's group itself",
    "agentd/systemd/bus.py": "the connection's supervisor and its re-subscription, cancelled and awaited at close",
    "agentd/local/journal_output.py": "a reader's follower and end watch, awaited when the async generator closes",
    "apsisd/daemon/listener.py": "a connection being opened, awaited when the listener closes",
}


def _calls(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def test_every_task_has_a_name() -> None:
    unnamed = [f"{path.relative_to(ROOT)}:{call.lineno}" for path in SOURCES for call in _calls(path)
               if _name(call) == "create_task" and not any(k.arg == "name" for k in call.keywords)]
    assert not unnamed, f"create_task without name=: {unnamed}"


def test_no_loose_task_outside_a_group() -> None:
    """A loose task (asyncio.create_task, loop.create_task, ensure_future, gather over coroutines) is a task
    nobody cancels; group.create_task is the way, or a TaskRoom's spawn."""
    loose = []
    for path in SOURCES:
        if str(path.relative_to(ROOT)) in OWNED:
            continue
        for call in _calls(path):
            func = call.func
            owner = func.value if isinstance(func, ast.Attribute) else None
            grouped = isinstance(owner, ast.Name) and owner.id == "group"
            if _name(call) in ("ensure_future", "gather") or (_name(call) == "create_task" and not grouped):
                loose.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not loose, f"loose tasks (spawn them in a TaskRoom or a TaskGroup): {loose}"
