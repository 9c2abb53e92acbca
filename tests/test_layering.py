"""The floor plan (docs/architecture.md), enforced: which room may import which.

- ``attestations`` and ``adapters`` never import ``relayer`` or ``attestor`` (SPEC section 1).
- ``relayer.core`` is pure: no I/O library and nothing of the relayer outside the core.
- ``relayer.pipeline`` works over the core's ports: no I/O library, no edge, no composition root.
- ``relayer.edges`` never call up into the pipeline or the composition roots.
- ``attestor`` is deployable alone: it reaches (even indirectly) none of the relayer's pipeline, stores,
  database, API or composition roots, only the core and the shared chain-reading layer.
- No production module imports the developer tools, even indirectly (they come in as plug-in commands).
- No production module is over `MAX_LINES` lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = ("relayer", "attestor", "attestations", "adapters")
MAX_LINES = 450
IO_LIBRARIES = ("sqlalchemy", "alembic", "asyncpg", "aiosqlite", "web3", "aiohttp")


def module_name(file: Path) -> str:
    parts = list(file.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(file: Path) -> set[str]:
    """Every module ``file`` imports, at any depth of its code (``from a import b`` counts ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports (ours and libraries')."""
    return {
        module_name(f): imported_modules(f)
        for package in PACKAGES
        for f in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in f.parts
    }


def within(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


@dataclass(frozen=True)
class Rule:
    """Modules in ``room`` (but not in ``except_in``) never import what is ``forbidden``; ``reach``: not even
    through other project modules."""

    name: str
    room: str
    forbidden: tuple[str, ...]
    reach: bool = False
    except_in: tuple[str, ...] = ()


DEVTOOLS = "relayer.devtools"
ROOTS = ("relayer.relay", "relayer.reconciliation", "relayer.cli")
RULES = (
    Rule("attestations is standalone", "attestations", ("relayer", "attestor")),
    Rule("adapters is standalone", "adapters", ("relayer", "attestor")),
    Rule("core is pure", "relayer.core", (*IO_LIBRARIES, "relayer.edges", "relayer.pipeline", "relayer.failures",
                                          "relayer.metrics", "relayer.logs", "attestor", DEVTOOLS, *ROOTS)),
    Rule("the pipeline works over ports", "relayer.pipeline",
         (*IO_LIBRARIES, "relayer.edges", "attestor", DEVTOOLS, *ROOTS)),
    Rule("edges never call up", "relayer.edges", ("relayer.pipeline", "attestor", DEVTOOLS, *ROOTS)),
    Rule("the attestor is deployable alone", "attestor",
         ("relayer.pipeline", "relayer.edges.db", "relayer.edges.http", "relayer.edges.chain",
          "relayer.edges.attestor_client", "relayer.edges.kyc_file", "sqlalchemy.ext", "asyncpg", "alembic", DEVTOOLS,
          *ROOTS), reach=True),
    Rule("production never imports the dev tools", "relayer", (DEVTOOLS,), reach=True, except_in=(DEVTOOLS,)),
    Rule("production never imports the dev tools", "attestor", (DEVTOOLS,), reach=True),
)  # fmt: skip


def reached(graph: Mapping[str, set[str]], module: str) -> dict[str, str]:
    """Every module ``module`` imports directly or through project modules, with the project module that
    imports it."""
    found: dict[str, str] = {}
    frontier = [module]
    while frontier:
        current = frontier.pop()
        for imported in graph.get(current, set()):
            if imported not in found:
                found[imported] = current
                if imported in graph:
                    frontier.append(imported)
    return found


def violations(graph: Mapping[str, set[str]], rules: Iterable[Rule] = RULES) -> list[str]:
    found = []
    for rule in rules:
        for module in sorted(
            m for m in graph if within(m, rule.room) and not any(within(m, e) for e in rule.except_in)
        ):
            imports = reached(graph, module) if rule.reach else dict.fromkeys(graph[module], module)
            for imported, via in sorted(imports.items()):
                if any(within(imported, f) for f in rule.forbidden):
                    found.append(
                        f"{rule.name}: {module} imports {imported}" + (f" (via {via})" if via != module else "")
                    )
    return found


def test_the_tree_keeps_the_floor_plan() -> None:
    assert violations(project_graph()) == []


def test_no_production_module_is_too_long() -> None:
    files = [
        f for p in ("relayer", "attestor") for f in (ROOT / p).rglob("*.py") if DEVTOOLS.replace(".", "/") not in str(f)
    ]
    long = {str(f.relative_to(ROOT)): n for f in files if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_check_sees_relayer_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import relayer.config\nfrom relayer import db\nfrom . import x\n")
    assert imported_modules(module) == {"relayer.config", "relayer", "relayer.db"}


@pytest.mark.parametrize(
    ("graph", "broken"),
    [
        ({"relayer.core.decisions": {"sqlalchemy.ext.asyncio"}}, "core is pure"),
        ({"relayer.core.decisions": {"relayer.edges.db.store"}}, "core is pure"),
        ({"relayer.pipeline.deliver": {"web3"}}, "the pipeline works over ports"),
        ({"relayer.pipeline.deliver": {"relayer.edges.chain.submitter"}}, "the pipeline works over ports"),
        ({"relayer.edges.http.api": {"relayer.pipeline.operator"}}, "edges never call up"),
        ({"attestor.checks": {"relayer.edges.evm.supply"}, "relayer.edges.evm.supply": {"relayer.edges.db.store"}},
         "the attestor is deployable alone"),
        ({"relayer.cli.transfers": {"relayer.metrics"}, "relayer.metrics": {"relayer.devtools.devnet"}},
         "production never imports the dev tools"),
        ({"adapters.compose": {"relayer.core.model"}}, "adapters is standalone"),
    ],
)  # fmt: skip
def test_each_rule_catches_what_it_forbids(graph: dict[str, set[str]], broken: str) -> None:
    """A tree breaking one rule is caught, naming the rule (and the module an indirect import goes through)."""
    found = violations(graph)
    assert found and all(v.startswith(broken) for v in found), found
