"""The allocator settings of the package's own processes (the ``policysim`` command and the
engine's workers): glibc keeps freed memory instead of handing it back to the kernel after
every year of a run (issue 20). No heavy imports: the command sets it before anything else."""

from __future__ import annotations

from typing import Final

#: glibc ``mallopt`` parameters (malloc.h): trim threshold and mmap threshold.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
#: Arrays up to this size come from the heap and are reused rather than mapped afresh: the
#: largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD_BYTES: Final = 32 * 1024 * 1024
#: Freed memory stays with the process up to this much at the top of the heap.
TRIM_THRESHOLD_BYTES: Final = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tell glibc's allocator to keep freed memory in this process (a worker of the engine, or
    the ``policysim`` command itself: the package's own processes, never a user's Python).

    The model's rules allocate population-size temporaries every year; by default glibc maps
    arrays above 128 KiB afresh and hands freed memory back to the kernel, and every year's
    arrays then page-fault back in (issue 20 measured 54-66% of the enterprise rule's time in
    minor faults from a few hundred thousand firms). With these settings a worker's memory
    peaks at its largest year and is reused. Set ``POLICYSIM_KEEP_MEMORY=0`` to leave the
    allocator alone. Returns whether the settings were applied (glibc on Linux only)."""
    import os
    import sys

    if os.environ.get("POLICYSIM_KEEP_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    ok_trim = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    return bool(ok_trim and ok_mmap)
