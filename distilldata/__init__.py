"""distilldata: the library behind the workflow. Scripts in `scripts/<pipeline>/` are thin CLIs
over it.

Shared layers: `core` (errors, CLI, atomic store, progress, model references, sources, Hub
writer), `text` (sentences, answer spans, MinHash, hashing, Harmony), `llm` (completion
backends, sharded per-group cache), `scoring` (pair scorers). Pipelines: `provence`, `pruner`,
`sft` (`rag` and `nll` are planned). A pipeline imports shared layers, never another pipeline;
`testing` holds CI scaffolding only (tests/test_layout.py checks all of this)."""

__version__ = "0.1.0"
