"""The package layout: one package per pipeline over shared layers, and who may import whom.

pipelines (provence, pruner, sft, ...) -> shared layers (llm, scoring, text) -> core; never a
pipeline into another pipeline, never a shared layer into a pipeline. `testing` (CI scaffolding)
is imported by no library module."""

from __future__ import annotations

import ast

from conftest import REPO

PACKAGE = REPO / "distilldata"
SHARED = {"core", "text", "llm", "scoring"}
PIPELINES = {"provence", "pruner", "sft", "rag", "nll"}
MAY_IMPORT = {
    "core": {"core"},
    "text": {"core", "text"},
    "llm": {"core", "llm"},
    "scoring": {"core", "scoring"},
    "testing": {"core", "text", "testing"},
    **{pipeline: SHARED | {pipeline} for pipeline in PIPELINES},
}


def imported_packages(source: str) -> set[str]:
    """The distilldata sub-packages a module imports (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "distilldata" and len(parts) > 1:
                found.add(parts[1])
    return found


def layer_violations(package: str, source: str) -> set[str]:
    return imported_packages(source) - MAY_IMPORT[package]


def test_no_module_at_the_top_of_the_package():
    assert [p.name for p in PACKAGE.glob("*.py")] == ["__init__.py"]
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} <= set(
        MAY_IMPORT
    )


def test_every_module_imports_only_what_its_layer_may():
    violations = {}
    for path in sorted(PACKAGE.glob("*/*.py")):
        bad = layer_violations(path.parent.name, path.read_text("utf-8"))
        if bad:
            violations[str(path.relative_to(REPO))] = sorted(bad)
    assert violations == {}


def test_the_check_catches_a_cross_pipeline_import():
    """What the check above would say about a deliberate violation."""
    assert layer_violations("pruner", "from distilldata.provence.relevance import COLUMN") == {
        "provence"
    }
    lazy = "def f():\n    from distilldata.sft import pools\n"
    assert layer_violations("provence", lazy) == {"sft"}
    assert layer_violations("llm", "import distilldata.provence.relevance_prompt") == {"provence"}
    assert layer_violations("core", "from distilldata.text.sentences import span_splitter") == {
        "text"
    }
    assert layer_violations("sft", "from distilldata.testing import tiny_encoder") == {"testing"}
    assert layer_violations("pruner", "from distilldata.text import sentences") == set()
