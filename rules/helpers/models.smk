# The shared model rules' helpers (rules/models.smk includes this file first).
MODELS = config["models"]


wildcard_constraints:
    gguf_model=one_of(MODELS["gguf"]),


def gguf_source(wildcards):
    """The GGUF file a model folder is converted from (a path or package:<module>/<file>)."""
    return shlex.quote(MODELS["gguf"][wildcards.gguf_model])


def local_model_files(ref):
    """The files that stand for a local model folder in a rule's input (so the DAG builds it);
    nothing for a Hub id or a package: reference."""
    if ref.startswith("package:") or not is_local(ref):
        return []
    return [str(Path(ref) / "config.json")]
