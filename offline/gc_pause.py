"""Python's cyclic garbage collector held off while a run builds its objects.

A mocked run allocates a few hundred objects per property of every resource (futures, tasks, Outputs,
protobuf structs) and keeps most of them alive until the end. The collector, triggered every 700 net
allocations, keeps walking that growing heap without finding much to free: about half the CPU time of a
1,000-worker preview went to it. Reference counting still frees everything that is not a cycle; the
cycles left are collected once the collector runs again after the block. Most of them are the run's
whole object graph (resources, their Outputs and futures refer to each other), garbage once the run
returns: about 2.7 million objects at 1,000 workers, whose collection alone takes seconds. A tool that
exits after one run (`make plan`, `make audit`, ..., a benchmark run) therefore never collects cycles
(`one_shot_process`): the process ends, and the memory with it.
Only the offline tools use this; a real `pulumi up` runs the program in the Pulumi CLI's own process.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_gc() -> Iterator[None]:
    """No automatic collection inside the block; the collector's previous state is restored after it (nests)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def one_shot_process() -> None:
    """For a command-line tool that runs once and exits: no cyclic collection for the rest of the process."""
    gc.disable()
