"""The generic batch-LLM layer: completion backends (transformers, vLLM, OpenAI endpoint) and a
sharded, resumable cache of per-group results keyed by input digest. No pipeline's prompt lives
here. Imports only `distilldata.core`."""
