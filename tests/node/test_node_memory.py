"""node/memory.py: a quiet server gives freed heap pages back (glibc's malloc_trim)."""

import platform

import pytest

from tagshare.node import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_freed_memory_is_handed_back_on_glibc() -> None:
    blocks = [bytearray(64 * 1024) for _ in range(512)]  # 32 MB from malloc, then freed
    del blocks
    assert memory.release_free_memory() is True
