"""Atomic writes: a failed or killed write never leaves a file under its final name."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pyarrow as pa
import pytest

from distilldata.core.store import atomic_path, save_splits, write_json, write_parquet, write_text

REPO = Path(__file__).resolve().parents[1]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "stats.json"
    write_json(target, {"rows": 1})
    with pytest.raises(TypeError):
        write_json(target, {"rows": object()})
    assert json.loads(target.read_text()) == {"rows": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_atomic_folder_replaces_the_old_one_only_on_success(tmp_path):
    target = tmp_path / "pools"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "a.parquet").write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "b.parquet").write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in target.iterdir()) == ["a.parquet"]
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "b.parquet").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["pools"]


def test_sidecars_land_with_the_dataset_or_not_at_all(tmp_path):
    tables = {"train": pa.table({"id": ["a", "b"]})}
    out = save_splits(
        tables, tmp_path / "ds", sidecars={"stats.json": {"rows": 2}, "x.md": "# x\n"}
    )
    assert json.loads((out / "stats.json").read_text()) == {"rows": 2}
    assert (out / "x.md").read_text() == "# x\n"
    with pytest.raises(TypeError):
        save_splits(tables, tmp_path / "bad", sidecars={"stats.json": {"rows": object()}})
    assert not (tmp_path / "bad").exists()
    write_text(tmp_path / "t.txt", "hi")
    write_parquet(pa.table({"x": [1]}), tmp_path / "t.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "t.parquet", "t.txt"]


# Calls that create or fill a file: each must write to a path that atomic_path() handed out.
WRITERS = {"write_text", "write_bytes", "write_table", "ParquetWriter", "savefig", "to_parquet"}
STORE_HELPERS = {"write_text"}


def _calls(node: ast.AST, name: str) -> bool:
    func = getattr(node, "func", None)
    return isinstance(node, ast.Call) and name in (
        getattr(func, "id", None),
        getattr(func, "attr", None),
    )


def _unguarded_writes(path: Path) -> list[str]:
    """Writer calls (and open(..., 'w')) outside any `with atomic_path(...)` block."""
    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.With):
            guarded = guarded or any(
                isinstance(item.context_expr, ast.Call)
                and getattr(
                    item.context_expr.func, "id", getattr(item.context_expr.func, "attr", "")
                )
                == "atomic_path"
                for item in node.items
            )
        if isinstance(node, ast.Call) and not guarded:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            mode = node.args[1] if len(node.args) > 1 else None
            # a bare `write_text(...)` is the store's helper; `path.write_text(...)` is pathlib's
            method = isinstance(func, ast.Attribute) or name not in STORE_HELPERS
            writes_file = (name in WRITERS and method) or (
                name == "open" and isinstance(mode, ast.Constant) and "w" in str(mode.value)
            )
            if writes_file:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {name}()")
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(path.read_text("utf-8")), False)
    return found


def test_every_library_and_script_write_goes_through_atomic_path():
    files = sorted((REPO / "distilldata").rglob("*.py")) + sorted((REPO / "scripts").rglob("*.py"))
    offenders = [hit for f in files if f.name != "store.py" for hit in _unguarded_writes(f)]
    assert offenders == []
