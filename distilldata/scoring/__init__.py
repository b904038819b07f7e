"""Query-text pair scorers (cross-encoder, bi-encoder): length-bucketed, order-restoring.
Imports only `distilldata.core`."""
