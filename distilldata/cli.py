"""What every script shares: logging set-up, and InputError turned into exit code 2."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from distilldata.errors import InputError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
    """Run a script's main(); bad input becomes one readable line and exit code 2."""
    try:
        main()
    except InputError as exc:
        logging.getLogger("distilldata").error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
