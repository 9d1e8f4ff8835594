"""Reading a process's memory counters from /proc (Linux)."""

from __future__ import annotations

import os
import threading
import time


def status_kib(field, pid="self"):
    """One ``kB`` field of ``/proc/<pid>/status``, such as ``VmRSS`` or ``RssAnon``."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def reset_hwm():
    """Reset this process's VmHWM (peak RSS) to its current RSS.

    Returns
    -------
    bool
        False if the kernel does not support it (``/proc/self/clear_refs``).
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return status_kib("VmHWM") <= status_kib("VmRSS") + 64


class AnonSampler:
    """Track the highest ``RssAnon`` of another process by polling its status.

    The kernel keeps a high-water mark for total RSS only (VmHWM), which also
    counts file pages a reader maps. Anonymous memory has none, so this polls
    ``/proc/<pid>/status`` from a thread of *this* process, about every
    0.2 ms. Faulting in 32 MiB takes milliseconds (8192 page faults), so a
    peak that large cannot fall between two samples.
    """

    def __init__(self, pid, interval=0.0002):
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY)
        try:
            while not self._stop.is_set():
                try:
                    data = os.pread(fd, 8192, 0)
                except OSError:  # the process has exited
                    return
                i = data.find(b"RssAnon:")
                if i < 0:
                    return
                kib = int(data[i + 8 : data.index(b"kB", i)])
                self.samples += 1
                self.peak_kib = max(self.peak_kib, kib)
                time.sleep(self.interval)
        finally:
            os.close(fd)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
