"""distilldata: the library behind the workflow. Scripts in `scripts/` are thin CLIs over it."""

__version__ = "0.1.0"
