"""The workaround for Snakemake's rate-limit timers (stsmeta.scheduler_timers).

Checked against the installed Snakemake's own scheduler method, so that the test fails (and the
workaround is seen to be dead) if Snakemake renames it or stops using a Timer.
"""

import threading

from snakemake.scheduling.job_scheduler import JobScheduler

from stsmeta.scheduler_timers import cancel_rate_limit_timers


class _Scheduler:
    """Just what JobScheduler._schedule_reevalutation touches."""

    def __init__(self):
        self._open_jobs = threading.Semaphore(0)


def _timers(function_qualname_part: str) -> list[threading.Timer]:
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, threading.Timer)
        and function_qualname_part in getattr(t.function, "__qualname__", "")
    ]


def test_the_schedulers_pending_timer_is_cancelled_and_exits():
    scheduler = _Scheduler()
    JobScheduler._schedule_reevalutation(scheduler, 60)  # a timer that would hold exit for 60 s
    pending = _timers("_schedule_reevalutation")
    assert len(pending) == 1 and not pending[0].daemon  # what made every run end late
    assert cancel_rate_limit_timers() == 1
    pending[0].join(timeout=5)
    assert not pending[0].is_alive()
    # Cancelled, the timer never released the scheduler's semaphore.
    assert not scheduler._open_jobs.acquire(blocking=False)


def test_other_timers_are_left_alone():
    fired = threading.Event()
    other = threading.Timer(0.2, fired.set)
    other.start()
    assert cancel_rate_limit_timers() == 0
    other.join(timeout=5)
    assert fired.is_set()
