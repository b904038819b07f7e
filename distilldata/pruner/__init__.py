"""Pipeline 2, the reranker-pruner: model, training data, trainer, evaluation, inference."""
