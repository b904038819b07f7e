#!/usr/bin/env python
"""ScaleDown's `python -m scaledown.data.prepare_dataset`, with its flags (see
`python -m distilldata.rag.prepare_dataset --help`): queries -> retrieval -> rerank -> teacher
answers -> train_data.json, in one process."""

from distilldata.core.cli import run_main
from distilldata.rag.prepare_dataset import main

if __name__ == "__main__":
    run_main(main)
