"""Every service has the one shape docs/architecture.md describes ("The service template").

The walk is over `apps/*/src`, so a new service is checked the day it appears. What is checked:
the template's modules exist; the old shapes are gone; the composition root yields a frozen
`Components` dataclass; `domain/` imports only the standard library, `payflow_contracts` and
itself; no route looks a component up by name; every exception of the service's tree is mapped
to a problem document (or declared internal) in `problems.py`.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import sys
from pathlib import Path

import pytest

from payflow_service.problems import subclasses

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p for p in ROOT.glob("apps/*/src/payflow_*") if (p / "__init__.py").exists())
IDS = [p.name.removeprefix("payflow_") for p in PACKAGES]

REQUIRED = (
    "__init__.py",
    "__main__.py",
    "settings.py",
    "main.py",
    "bootstrap.py",
    "deps.py",
    "problems.py",
    "ports.py",
    "domain/__init__.py",
    "domain/errors.py",
    "adapters/__init__.py",
)
# A module or, once it outgrows a file, a package of the same name.
ONE_OF = (("api.py", "api/__init__.py"), ("adapters/mongo.py", "adapters/mongo/__init__.py"))
ONE_OF_ADAPTER_TWIN = ("adapters/memory.py", "adapters/memory/__init__.py")
SCHEMAS = ("schemas.py", "api/schemas.py")
# The shapes the template replaced: composition spread over slices, stores beside use cases.
RETIRED = ("composition.py", "components.py", "repository.py", "stores.py", "paging.py")


BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Exception)
}


def exists(package: Path, relative: str) -> bool:
    return (package / relative).exists()


def source_files(package: Path) -> list[Path]:
    return sorted(package.rglob("*.py"))


def test_every_app_is_walked() -> None:
    assert set(IDS) >= {"gateway", "orchestrator", "wallet", "ledger", "webhooks"}


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_the_template_modules_exist(package: Path) -> None:
    missing = [r for r in REQUIRED if not exists(package, r)]
    missing += [" or ".join(alts) for alts in ONE_OF if not any(exists(package, a) for a in alts)]
    if not any(exists(package, a) for a in ONE_OF_ADAPTER_TWIN):
        missing.append(" or ".join(ONE_OF_ADAPTER_TWIN))
    if not any(exists(package, s) for s in SCHEMAS):
        missing.append(" or ".join(SCHEMAS))
    consumes_a_stream = any(
        "StreamConsumer(" in f.read_text(encoding="utf-8") for f in source_files(package)
    )
    if consumes_a_stream and not exists(package, "handlers.py"):
        missing.append("handlers.py (the service consumes a stream)")
    assert not missing, f"{package.name} lacks {missing}"


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_the_retired_shapes_are_gone(package: Path) -> None:
    retired = [
        str(f.relative_to(package))
        for f in source_files(package)
        if f.name in RETIRED or f.name.endswith(("_store.py", "_repository.py"))
        if "adapters" not in f.relative_to(package).parts
    ]
    assert not retired, f"{package.name}: stores and composition live in adapters/ and bootstrap.py"


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_components_are_a_frozen_dataclass(package: Path) -> None:
    bootstrap = importlib.import_module(f"{package.name}.bootstrap")
    components = bootstrap.Components
    assert dataclasses.is_dataclass(components)
    assert components.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert all(f.type != "Any" for f in dataclasses.fields(components)), "typed fields only"


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_no_component_is_looked_up_by_name(package: Path) -> None:
    offenders = [
        f"{f.relative_to(package)}:{n}"
        for f in source_files(package)
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if "runtime.components" in line
        or "state.runtime.settings" in line
        or "type: ignore[no-any-return]" in line
    ]
    assert not offenders, offenders


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module)
    return roots


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_the_domain_imports_only_the_standard_library_and_the_contracts(package: Path) -> None:
    own_domain = f"{package.name}.domain"
    foreign = {
        f"{f.relative_to(package)}: {module}"
        for f in source_files(package / "domain")
        for module in imported_roots(f)
        if module.split(".")[0] not in sys.stdlib_module_names
        and module.split(".")[0] != "payflow_contracts"
        and not module.startswith(own_domain)
    }
    assert not foreign, foreign


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_every_exception_of_the_tree_has_a_problem_or_is_internal(package: Path) -> None:
    errors = importlib.import_module(f"{package.name}.domain.errors")
    problems = importlib.import_module(f"{package.name}.problems")
    roots = [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == errors.__name__
        and not any(
            issubclass(value, base) and base is not value
            for base in vars(errors).values()
            if isinstance(base, type) and base.__module__ == errors.__name__
        )
    ]
    assert len(roots) == 1, f"{package.name}: one exception root, found {roots}"
    [root] = roots
    # Every class the service defines descends from the root.
    defined_elsewhere = {
        f"{f.relative_to(package)}: {node.name}"
        for f in source_files(package)
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and node.bases
        and all(isinstance(b, ast.Name) and b.id in BUILTIN_ERRORS for b in node.bases)
        and node.name != root.__name__
    }
    assert not defined_elsewhere, f"not under {root.__name__}: {defined_elsewhere}"
    # A service whose answers need more than a fixed document (headers, a metric) lists the
    # classes its own handlers answer in `ANSWERED_BY_HANDLER`.
    mapped = (
        set(problems.PROBLEMS)
        | set(problems.INTERNAL)
        | set(getattr(problems, "ANSWERED_BY_HANDLER", ()))
    )
    unmapped = [
        kind.__name__
        for kind in subclasses(root)
        if not any(issubclass(kind, listed) for listed in mapped)
    ]
    assert not unmapped, f"{package.name}: no problem document for {unmapped}"
