"""What every script shares: its parser (docstring help, --log-level), logging set-up, and
InputError turned into exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from distilldata.core.errors import InputError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def script_parser(doc: str | None) -> argparse.ArgumentParser:
    """A script's parser: its docstring (examples kept as written) as help, and --log-level."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--log-level", default="INFO", choices=LOG_LEVELS, help="logging level")
    return p


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # datasets' tqdm bars flood rule logs; our own Progress lines report rate and ETA instead.
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()


def run_main(main: Callable[[], None]) -> None:
    """Run a script's main(); bad input (an InputError, or an input file that is not there)
    becomes one readable line naming it, and exit code 2."""
    try:
        main()
    except (InputError, FileNotFoundError) as exc:
        logging.getLogger("distilldata").error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
