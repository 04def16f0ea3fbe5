"""What a benchmark figure needs beside its seconds: the machine, its memory bandwidth, the
load other processes put on it, and the CPU time and page faults of a stretch of code.

Shared by ``run.py`` and ``time_to_rmse.py``.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float:
    """The 1-minute load average (runnable processes, ours included)."""
    return os.getloadavg()[0]


def stream_triad(threads: int, mib: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth in bytes/s: the best of ``repeats`` STREAM triads ``a = b + 2 c`` on
    float32 arrays of ``mib`` MiB each (far past the caches), with ``threads`` torch threads.
    Bytes counted as STREAM counts them: two arrays read and one written per triad."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    n = mib * 2**20 // 4
    a, b, c = torch.empty(n), torch.ones(n), torch.ones(n)
    torch.add(b, c, alpha=2.0, out=a)  # touch every page first
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.add(b, c, alpha=2.0, out=a)
        best = min(best, time.perf_counter() - start)
    torch.set_num_threads(before)
    return 3 * n * 4 / best


@dataclass(frozen=True)
class Usage:
    """CPU seconds, page faults and wall seconds of this process so far."""

    wall: float
    user: float
    system: float
    minor_faults: int

    @classmethod
    def now(cls) -> Usage:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return cls(time.perf_counter(), ru.ru_utime, ru.ru_stime, ru.ru_minflt)

    def since(self, start: Usage) -> dict:
        """Wall, user and system seconds and minor page faults from ``start`` to this."""
        return {
            "wall_s": self.wall - start.wall,
            "user_s": self.user - start.user,
            "system_s": self.system - start.system,
            "minor_faults": self.minor_faults - start.minor_faults,
        }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
