"""A digest of the code a rule runs: its script plus every `distilldata` module it imports,
followed transitively. Rules carry it as a param, so Snakemake reruns a job when that code
changes (its `params` rerun trigger) and only then; a change to a module the script never
imports reruns nothing."""

from __future__ import annotations

import ast
import hashlib
import re
from functools import cache
from pathlib import Path

PACKAGE = "distilldata"
# An import statement of the package, at any indentation (lazy imports inside functions too);
# only these snippets are parsed, not whole files (the dry run parses every rule's closure).
IMPORT_STATEMENT = re.compile(
    rf"^[ \t]*(?:from[ \t]+{PACKAGE}[\w.]*[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)"
    rf"|import[ \t]+{PACKAGE}[^\n]*)",
    re.MULTILINE,
)


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


@cache
def _direct_dependencies(path: Path, root: Path, stamp: tuple[int, int]) -> tuple[Path, ...]:
    """The package files `path` imports, with their parent packages' __init__.py. Cached per
    file version (`stamp`: mtime and size), since every rule's script shares most modules."""
    statements = (m.group(0).strip() for m in IMPORT_STATEMENT.finditer(path.read_text("utf-8")))
    tree = ast.parse("\n".join(statements), filename=str(path))
    found = []
    for dotted in _imported_modules(tree):
        parts = dotted.split(".")
        for depth in range(1, len(parts) + 1):
            module = _module_file(root, ".".join(parts[:depth]))
            if module is not None:
                found.append(module)
    return tuple(found)


def code_files(script: Path, root: Path) -> list[Path]:
    """The script and the package modules it reaches through imports, sorted."""
    seen: set[Path] = set()
    todo = [Path(script)]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        stat = path.stat()
        todo.extend(_direct_dependencies(path, Path(root), (stat.st_mtime_ns, stat.st_size)))
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
