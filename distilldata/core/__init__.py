"""What every pipeline uses: errors, the script CLI, atomic writes, progress, model references,
dataset sources and file resolution, the Hub writer, code digests, span metrics.

Imports nothing else of distilldata."""
