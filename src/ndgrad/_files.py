"""Bounded reading of files named on the command line (shared by the doctor and training).

A path a user gives may be a FIFO (``open`` blocks), a device (``/dev/zero`` never ends) or a
huge file: :func:`read_small_file` reads only regular files, and at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat

MAX_FILE_BYTES = 1 << 20  # kernel.json and other small files the doctor reads


def read_small_file(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> bytes:
    """At most ``limit`` bytes of a regular file; never blocks on a FIFO or reads a device.

    Raises OSError (a FIFO, a device, a folder, a link to one, or a file over ``limit``).
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"{os.fspath(path)} is not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat above
            raise OSError(f"{os.fspath(path)} is not a regular file")
        chunks = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise OSError(f"{os.fspath(path)} is larger than {limit} bytes")
    return b"".join(chunks)
