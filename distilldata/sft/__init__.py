"""Pipeline 4, distilled-SFT curation (Nemotron and chat/tool corpora): inventory, chat adapters,
Harmony normalization, quality flags, exact and near dedup, candidate pools."""
