"""`payflow-client` installs on its own: it declares no server package and imports none."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def test_the_package_declares_no_server_dependency() -> None:
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    assert project["name"] == "payflow-client"
    names = [
        dep.split(">")[0].split("=")[0].split("[")[0].strip() for dep in project["dependencies"]
    ]
    assert sorted(names) == ["httpx", "pydantic", "rich", "typer"]
    assert project["scripts"] == {"payflow": "payflow_client.cli:main"}


def test_the_package_imports_no_server_module() -> None:
    for path in (PACKAGE / "src" / "payflow_client").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert not (top.startswith("payflow_") and top != "payflow_client"), (
                    f"{path.name} imports {module}"
                )
