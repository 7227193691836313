"""Writing a report to stdout so that `... | head` ends quietly: a closed pipe is the reader's choice, not an error."""

from __future__ import annotations

import os
import sys


def emit(text: str) -> bool:
    """Print `text`; False (and stdout silenced, so the interpreter's final flush stays quiet) if the reader left."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return False
