"""The layers of STYLE.md as rules, each stated once and tested on its own, over every module of apsisd and agentd.

The modules are read, never imported. Every import counts, wherever it
stands: at the top, under `if TYPE_CHECKING:`, or inside a function. A
type named across layers is a dependency all the same, and an import moved
into a function hides a cycle or a breach from the start-up order, not from
the design (schedules/registry.py and stop.py were a cycle so). `from A
import B` imports the module A.B when there is one, else A.

Layer 0 is apsisd's top-level modules (apsisd/*.py: errors, fields,
quantities, clock, plugins, yaml_source, text, and the small modules the
daemon and the CLI share: rights, tokens_file, owned_file). A module put at
apsisd's top level is shared by every room, so it may import only layer 0
itself. Of agentd, every layer may import what is not a host (HOSTS): its
wire types (types, errors, spec, host) and helpers such as tasks; only the
daemon names a host. The rooms SHARED names sit above the domain and
below the daemon, the API and the CLI, which all use them (apsisd.config:
apsisd.toml's settings and their reading).

A failure names each module and line that breaks the rule, the import, the
rule, and what to do instead.
"""
from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("apsisd", "agentd")
HOSTS = ("agentd.local", "agentd.systemd")  # what runs units: only the daemon names them
DOMAIN = ("apsisd.jobs", "apsisd.schedules", "apsisd.calendars", "apsisd.runs", "apsisd.conditions",
          "apsisd.actions")
SHARED = ("apsisd.config",)  # rooms the daemon, the API and the CLI share, built on the domain
# Every room of apsisd, each under a rule below; the daemon may import anything (it names the concrete classes).
ROOMS = (*DOMAIN, *SHARED, "apsisd.store", "apsisd.scheduler", "apsisd.api", "apsisd.web", "apsisd.cli",
         "apsisd.daemon")


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's module in a module of ours: `target` as written if relative (`..x`), else resolved."""

    module: str
    path: Path
    line: int
    target: str
    relative: bool = False

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.module} imports {self.target}"


def within(name: str, prefixes: Iterable[str]) -> bool:
    """`name` is one of `prefixes` or inside one of them (a module of that package)."""
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@functools.cache
def modules() -> dict[str, Path]:
    """Every module of apsisd and agentd by dotted name; a package by its __init__.py."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@functools.cache
def layer0() -> tuple[str, ...]:
    """apsisd's top-level modules."""
    return tuple(name for name, path in modules().items()
                 if path.parent == ROOT / "apsisd" and path.name != "__init__.py")


def imports_in(source: str, module: str, path: Path, known: Iterable[str]) -> Iterator[Import]:
    """The imports of ours (apsisd, agentd) in `source`, at any depth, resolved against the `known` modules."""
    names = set(known)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            yield Import(module, path, node.lineno, "." * node.level + (node.module or ""), relative=True)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                yield Import(module, path, node.lineno, name if name in names else node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, path, node.lineno, alias.name)


@functools.cache
def all_imports() -> tuple[Import, ...]:
    """Every import of ours in apsisd and agentd, each imported module once per statement."""
    found = [each for name, path in modules().items() for each in imports_in(path.read_text(), name, path, modules())]
    return tuple(each for each in dict.fromkeys(found) if each.relative or within(each.target, PACKAGES))


def breaches(importers: Iterable[str], allowed: Iterable[str], refused: Iterable[str] = HOSTS) -> list[Import]:
    """The imports by modules inside `importers` of anything of ours outside `allowed`, or inside `refused`."""
    inside, ok, not_ok = tuple(importers), tuple(allowed), tuple(refused)
    return sorted((found for found in all_imports() if not found.relative and within(found.module, inside)
                   and (not within(found.target, ok) or within(found.target, not_ok))),
                  key=lambda found: (found.path, found.line))


def enforce(rule: str, found: Iterable[object], fix: str) -> None:
    """Fail, if anything breaks the rule, with the rule, each breach and what to do (no traceback: it says it all)."""
    breaking = list(found)
    if breaking:
        pytest.fail("\n".join([f"Rule: {rule}", *(f"  {each}" for each in breaking), f"What to do: {fix}"]),
                    pytrace=False)


def test_relative_imports_are_refused() -> None:
    found = [each for each in all_imports() if each.relative]
    enforce(
        "no relative imports: a module names what it imports by its full path.", found,
        "write the absolute name (from apsisd.jobs.model import Job, not from .model import Job).")


def test_agentd_imports_nothing_of_apsisd() -> None:
    found = breaches(["agentd"], ["agentd"], refused=())
    enforce(
        "agentd imports nothing of apsisd: it runs on remote hosts without the scheduler.", found,
        "move what agentd needs into agentd (the wire types: agentd/types.py, errors.py, spec.py, host.py), and "
        "let apsisd import it from there.")


def test_layer0_imports_only_layer0() -> None:
    found = breaches(layer0(), [*layer0(), "agentd"])
    enforce(
        "apsisd's top-level modules (layer 0: errors, fields, ..., and what the daemon and the CLI share) import "
        "only each other and agentd but its hosts (agentd.local, agentd.systemd): every room may import them.",
        found,
        "move what the module needs to layer 0 too, or move the module into the room that uses it.")


def test_the_domain_imports_no_adapter_and_nothing_above_it() -> None:
    found = breaches(DOMAIN, [*DOMAIN, *layer0(), "agentd"])
    enforce(
        "the domain (jobs, schedules, calendars, runs, conditions, actions) imports only the domain, layer 0 "
        "(apsisd/*.py) and agentd but its hosts (its wire types agentd.types, errors, spec, host, and helpers): no "
        "store, no host (agentd.local, agentd.systemd), no api, scheduler, cli or daemon.", found,
        "move what it needs down into the domain or layer 0, or have the caller pass it in.")


def test_what_the_daemon_and_the_cli_share_imports_neither() -> None:
    found = breaches(SHARED, [*SHARED, *DOMAIN, *layer0(), "agentd"])
    enforce(
        f"the rooms shared below the daemon, the API and the CLI ({', '.join(SHARED)}) import only each other, the "
        "domain, layer 0 and agentd but its hosts: never the daemon, api, cli, scheduler, store or a host.", found,
        "move what the shared room needs into it (or below it), and let the daemon, the API or the CLI use it.")


def test_the_store_imports_no_host() -> None:
    found = breaches(["apsisd.store"], ["apsisd.store", *DOMAIN, *layer0(), "agentd"],
                     refused=[*HOSTS, "agentd.host"])
    enforce(
        "the store imports no host (agentd.local, agentd.systemd, nor the Host protocol agentd.host) and nothing "
        "above it: only the store, the domain, layer 0 and the rest of agentd (types, errors, spec).", found,
        "keep what a host reports out of the store's modules: the scheduler turns it into runs before storing them.")


def test_the_scheduler_knows_the_store_and_the_hosts_by_their_protocols() -> None:
    found = breaches(["apsisd.scheduler"], ["apsisd.scheduler", "apsisd.store.base", *DOMAIN, *layer0(), "agentd"])
    enforce(
        "the scheduler knows the store and the hosts by their protocols only (apsisd.store.base, agentd.host), "
        "never apsisd.store.sqlite, agentd.local or agentd.systemd; nor the api, cli or daemon above it.", found,
        "add what it needs to the protocol (store/base.py, agentd/host.py); daemon/main.py names the concrete "
        "classes and hands them in.")


def test_the_api_imports_the_scheduler_not_the_adapters() -> None:
    found = breaches(["apsisd.api"], ["apsisd.api", "apsisd.scheduler", "apsisd.store.base", *SHARED, *DOMAIN,
                                      *layer0(), "agentd"])
    enforce(
        "the API builds on the scheduler: it imports the api, the scheduler, the store's protocol and its value "
        "types (apsisd.store.base), the shared rooms, the domain, layer 0 and agentd but its hosts; never a "
        "concrete store or host, the cli or the daemon.", found,
        "reach it through a scheduler method (scheduler/history.py, operations.py), or move what is shared with "
        "the daemon or the CLI below them (layer 0, or a shared room).")


def test_the_api_reaches_runs_through_scheduler_methods() -> None:
    """Any `.store` read in the API's code is refused, `scheduler.records.store` and an alias of `records` alike."""
    found = [f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
             for name, path in modules().items() if within(name, ["apsisd.api"])
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Attribute) and node.attr == "store"]
    found.sort()
    enforce(
        "the API reaches runs through scheduler methods, never the store (scheduler.records.store).", found,
        "call a function of scheduler/history.py (reading runs) or operations.py (changing them); add one there "
        "if none reads what the route needs.")


def test_the_web_page_builds_on_the_api_and_reaches_runs_through_scheduler_methods() -> None:
    found = breaches(["apsisd.web"], ["apsisd.web", "apsisd.api", "apsisd.scheduler", "apsisd.store.base", *SHARED,
                                      *DOMAIN, *layer0(), "agentd"])
    found += [f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
              for name, path in modules().items() if within(name, ["apsisd.web"])
              for node in ast.walk(ast.parse(path.read_text()))
              if isinstance(node, ast.Attribute) and node.attr == "store"]
    enforce(
        "the web page is a client of the scheduler as the API is: it imports the web room, the api (its access "
        "check, replies, state), the scheduler, the store's value types, the shared rooms, the domain, layer 0 and "
        "agentd but its hosts; never a concrete store or host, the cli or the daemon, and never reads the store.",
        found, "call a function of scheduler/history.py or operations.py, as the API's routes do.")


def test_the_cli_imports_only_its_client_and_what_is_shared_below() -> None:
    found = breaches(["apsisd.cli"], ["apsisd.cli", *SHARED, *DOMAIN, *layer0(), "agentd"])
    enforce(
        f"the CLI imports only itself (its HTTP client), what is shared below it and the daemon ({', '.join(SHARED)}"
        " and layer 0), the domain (check-jobs and next read jobs without a daemon) and agentd but its hosts; "
        "never the daemon, api, scheduler, store or a host.", found,
        "move what the CLI shares with the daemon or the API below both (a top-level module of apsisd, or a "
        "shared room), and import it from there in both.")


def test_every_room_of_apsisd_is_under_a_rule() -> None:
    rooms = [name for name, path in modules().items() if path.name == "__init__.py" and name.count(".") == 1
             and name.startswith("apsisd.")]
    found = [room for room in rooms if room not in ROOMS]
    enforce(
        "every room (package) of apsisd is named by a rule of tests/test_imports.py.", found,
        "say what the new room may import: a rule (a test) of its own in tests/test_imports.py, and its line in "
        "docs/development.md's layers.")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (its first module repeated at its end) through each group of modules that import each other,
    found by Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for after in sorted(graph.get(node, ())):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            group = []
            while (top := stack.pop()) != node:
                group.append(top)
            groups.append([node, *group])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(min(group), graph, set(group)) for group in groups if len(group) > 1]


def _cycle_through(start: str, graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest way from `start` back to itself inside `group`."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for after in sorted(graph.get(node, ())):
            if after == start:
                return [*paths[node], start]
            if after in group and after not in paths:
                paths[after] = [*paths[node], after]
                queue.append(after)
    raise AssertionError(f"{start} is in a group with no cycle back to it")


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], Import] = {}
    for each in all_imports():
        if not each.relative and each.target in modules() and each.target != each.module:
            graph.setdefault(each.module, set()).add(each.target)
            lines.setdefault((each.module, each.target), each)
    found = [" -> ".join(cycle) + "".join(f"\n    {lines[pair]}" for pair in itertools.pairwise(cycle))
             for cycle in cycles(graph)]
    enforce(
        "no import cycle between modules of apsisd and agentd (an import inside a function counts).", found,
        "move what both need into a third module both import, or pass it in as an argument.")


def test_the_rules_see_every_kind_of_import() -> None:
    """What the rules rest on: imports at any depth found and resolved, relative ones flagged, cycles found."""
    source = ("from __future__ import annotations\nimport os\nfrom typing import TYPE_CHECKING\n"
              "from apsisd.jobs import model, nothing\nimport apsisd.runs.state\nfrom . import sibling\n"
              "if TYPE_CHECKING:\n    from apsisd.store.base import Store\n"
              "def later():\n    from agentd.local.host import LocalHost\n")
    found = list(imports_in(source, "apsisd.x", ROOT / "apsisd/x.py", ["apsisd.jobs.model", "apsisd.runs.state"]))
    assert [(each.line, each.target, each.relative) for each in found if within(each.target, PACKAGES)
            or each.relative] == [(4, "apsisd.jobs.model", False), (4, "apsisd.jobs", False),
                                  (5, "apsisd.runs.state", False), (6, ".", True), (8, "apsisd.store.base", False),
                                  (10, "agentd.local.host", False)]
    assert cycles({"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"e"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert "apsisd.errors" in layer0() and "apsisd.jobs" not in layer0() and "apsisd.jobs.model" not in layer0()
