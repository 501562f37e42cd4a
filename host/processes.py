"""Worker processes end with their parent, however it ends (issue: a killed `apply` left its workers rendering).

Every pool eqbridge starts (apply's and render-dataset's workers, the refinement process) runs
:func:`end_with_parent` first in each worker: on Linux the kernel sends the worker SIGKILL when the parent
dies (``prctl(PR_SET_PDEATHSIG)``), and a watcher thread also notices a changed parent pid (other systems,
or a parent that died before the call). Writes are atomic, so a killed worker leaves no half file.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5


def end_with_parent() -> None:
    """Make this process end when its parent does (call it first in a worker)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watcher below is the only guard
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_INTERVAL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="eqbridge-parent-watch").start()
