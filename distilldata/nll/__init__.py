"""Completion-only NLL scoring of the distilled-SFT candidate pools and the selection subsets."""
