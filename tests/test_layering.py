"""`attestations/` and `adapters/` never import `relayer/` (SPEC section 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def imported_modules(file: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", ["attestations", "adapters"])
def test_package_does_not_import_relayer(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {
        str(f.relative_to(ROOT)): sorted(m for m in imported_modules(f) if m.split(".")[0] == "relayer") for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_check_sees_relayer_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import relayer.config\nfrom relayer import db\nfrom . import x\n")
    assert imported_modules(module) == {"relayer.config", "relayer"}
