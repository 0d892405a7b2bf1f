"""Giving freed memory back to the operating system once a burst of work is over.

A first sync decodes chunks of thousands of people; CPython frees those objects, but
glibc's malloc keeps the freed pages in its arenas (one per thread that allocated), so
a node that has gone quiet can hold tens of megabytes it no longer uses. On a machine
serving hundreds of nodes that adds up (issue 15: 300 nodes). `malloc_trim(0)` hands
the free pages back; it costs a few milliseconds, so the server calls it once each
time it goes idle after activity (node/server.py), never in a loop.
"""

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim() -> "ctypes._NamedFuncPointer | None":
    """glibc's malloc_trim, or None where there is no such function (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return freed heap pages to the operating system; whether it could try."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
