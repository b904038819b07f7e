"""A GGUF checkpoint turned once into a plain transformers model folder (safetensors + tokenizer).

transformers loads a GGUF file (with the `gguf` and `accelerate` packages) by de-quantising every
tensor, which takes about a minute for SmolLM2-135M on two cores; doing that in every job would
cost more than the jobs themselves. `save_pretrained` refuses a GGUF-loaded model ("quantized
with gguf and is not serializable"), so its weights are copied into a model built from the same
config without the quantisation entry, and that model is saved. Reloading the folder takes about
a second and gives the same logits (checked by `tests/test_gguf.py`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from distilldata.core.errors import InputError
from distilldata.core.models import resolve_model
from distilldata.core.store import atomic_path

log = logging.getLogger(__name__)

DTYPES = ("float32", "bfloat16", "float16")


def convert_gguf(gguf: str, output: str | Path, dtype: str = "float32") -> Path:
    """Write the model and tokenizer of a GGUF file (a path or `package:<module>/<file>`) as a
    plain model folder at `output`, atomically (a temp folder renamed into place)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise InputError(f"--dtype {dtype!r}: use one of {DTYPES}")
    path = Path(resolve_model(gguf))
    if not path.is_file() or path.suffix != ".gguf":
        raise InputError(f"{gguf}: not a .gguf file ({path})")
    started = time.monotonic()
    torch_dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    quantized = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch_dtype
    )
    log.info("de-quantised %s in %.1fs", path.name, time.monotonic() - started)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    result = plain.load_state_dict(quantized.state_dict(), strict=True)
    if result.missing_keys or result.unexpected_keys:  # strict=True raises first; belt and braces
        raise RuntimeError(f"{path}: weights do not match the config ({result})")
    with atomic_path(output) as tmp:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    log.info("wrote %s (%s) in %.1fs", output, dtype, time.monotonic() - started)
    return Path(output)
