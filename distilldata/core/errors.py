"""The one exception type for bad input: scripts turn it into a clear message and exit code 2."""


class InputError(Exception):
    """Bad user input (a missing column, an empty dataset, an existing output...).

    The message must name the offending file/row/column and say how to fix it.
    """
