"""CI and test scaffolding, not used by any pipeline: the tiny random encoder a rule builds for
the tiny config, and the openai-harmony reference renderer the Harmony tests compare against
(its dependencies are the `dev` extra)."""
