"""The code digest a rule carries: its script and the package modules it imports, transitively."""

from __future__ import annotations

import shutil

from conftest import REPO
from distilldata.core.code_version import code_digest, code_files


def copy_tree(tmp_path):
    for name in ("scripts", "distilldata"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_code_files_follow_imports_transitively():
    files = {
        p.relative_to(REPO).as_posix()
        for p in code_files(REPO / "scripts/provence/export_punkt.py", REPO)
    }
    assert "scripts/provence/export_punkt.py" in files
    assert "distilldata/text/sentences.py" in files  # imported lazily inside main()
    assert "distilldata/core/cli.py" in files
    assert "distilldata/core/errors.py" in files  # through cli.py
    assert "distilldata/sft/pools.py" not in files


def test_digest_changes_with_an_imported_module_only(tmp_path):
    root = copy_tree(tmp_path)
    script = root / "scripts" / "provence" / "export_punkt.py"
    before = code_digest.__wrapped__(script, root)
    with open(root / "distilldata" / "sft" / "pools.py", "a") as f:
        f.write("\n# unrelated\n")
    assert code_digest.__wrapped__(script, root) == before
    with open(root / "distilldata" / "core" / "errors.py", "a") as f:
        f.write("\n# imported through cli.py\n")
    assert code_digest.__wrapped__(script, root) != before
