"""A digest of the code a rule runs: its script plus every `distilldata` module it imports,
followed transitively. Rules carry it as a param, so Snakemake reruns a job when that code
changes (its `params` rerun trigger) and only then; a change to a module the script never
imports reruns nothing."""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "distilldata"


def _in_package(node: ast.ImportFrom) -> bool:
    return node.level == 0 and bool(node.module) and node.module.split(".")[0] == PACKAGE


def _imported_modules(tree: ast.AST) -> set[str]:
    """Dotted names of the package's modules that `tree` imports (at any depth, lazily too)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and _in_package(node):
            names.add(node.module)
            # `from distilldata.pkg import module` names a module, or a name in pkg
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _module_file(root: Path, dotted: str) -> Path | None:
    """The file of a dotted module name under `root` (the folder holding the package)."""
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def code_files(script: Path, root: Path) -> list[Path]:
    """The script and the package modules it reaches through imports, sorted."""
    seen: set[Path] = set()
    todo = [Path(script)]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for dotted in _imported_modules(tree):
            # a module also runs its parent packages' __init__.py
            parts = dotted.split(".")
            for depth in range(1, len(parts) + 1):
                found = _module_file(root, ".".join(parts[:depth]))
                if found is not None and found not in seen:
                    todo.append(found)
    return sorted(seen)


@cache
def code_digest(script: str | Path, root: str | Path) -> str:
    """sha1 (12 hex digits) over the relative paths and bytes of `code_files(script, root)`."""
    root = Path(root)
    digest = hashlib.sha1()
    for path in code_files(Path(script), root):
        name = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
        digest.update(name.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]
