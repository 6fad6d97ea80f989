"""Let a finished Snakemake run exit as soon as its work is done.

Snakemake's job-rate limiter (``--max-jobs-per-timespan``, by default ``100/1s``) starts a
non-daemon ``threading.Timer`` of one timespan at every scheduling step, to wake the scheduler
when more jobs may be submitted. The interpreter joins every non-daemon thread at exit, so a run
that ran jobs ended up to a second after its last job (Snakemake 9.x; a no-op never schedules).
Called from ``onsuccess`` and ``onerror``, when the scheduler has returned: the timers have
nothing left to wake.
"""

from __future__ import annotations

import threading

# The timer's function is a lambda defined in JobScheduler._schedule_reevalutation (sic).
SCHEDULER_TIMER = "JobScheduler._schedule_reevalutation.<locals>"


def cancel_rate_limit_timers() -> int:
    """Cancel the scheduler's pending rate-limit timers; return how many were pending."""
    cancelled = 0
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and getattr(function, "__qualname__", "").startswith(
            SCHEDULER_TIMER
        ):
            thread.cancel()
            cancelled += 1
    return cancelled
