"""Worker processes end with their parent, however it ends (a killed `apply` used to leave its workers rendering).

Every pool eqbridge starts (apply's and render-dataset's workers, the refinement process) runs
:func:`end_with_parent` first in each worker: a daemon thread polls the parent pid and ends the worker
with ``os._exit`` once the parent is gone (a killed parent's children are re-parented, so the pid
changes). Not the kernel's ``PR_SET_PDEATHSIG``: it fires when the *thread* that started the worker
ends, and the OSC server starts its refinement process from a short-lived thread. Writes are atomic,
so a worker ended mid-write leaves no half file under a final name.
"""

from __future__ import annotations

import os
import threading
import time

WATCH_INTERVAL_S = 0.25


def end_with_parent() -> None:
    """Make this process end (exit status 1) within WATCH_INTERVAL_S of its parent's death."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL_S)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="eqbridge-parent-watch").start()
