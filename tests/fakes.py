"""Stand-ins the tests share for what a test machine cannot easily do for real."""

from __future__ import annotations

import errno
import io


class FullDisk(io.FileIO):
    """A file on a disk with ``room`` bytes left: writes past it fail with ENOSPC, as does the
    flush that closing it tries again."""

    def __init__(self, fd: int, room: int):
        super().__init__(fd, "wb", closefd=True)
        self.room = room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = super().write(bytes(data)[:self.room])
        self.room -= written
        return written
