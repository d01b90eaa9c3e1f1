"""The packages depend one way only: api -> infra -> projections -> domain."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["domain", "projections", "infra", "api"]
THIRD_PARTY_IN_DOMAIN = {"eventsourcing"}


def imports_of(package: str) -> dict[str, set[str]]:
    """Top-level modules each file of `package` imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_layers_below_it(package):
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    offending = {
        file: sorted(names & above)
        for file, names in imports_of(package).items()
        if names & above
    }
    assert offending == {}


def test_the_domain_imports_only_the_standard_library_and_eventsourcing():
    allowed = set(sys.stdlib_module_names) | THIRD_PARTY_IN_DOMAIN | {"domain"}
    offending = {
        file: sorted(names - allowed)
        for file, names in imports_of("domain").items()
        if names - allowed
    }
    assert offending == {}
