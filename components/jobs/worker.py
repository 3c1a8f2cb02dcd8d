"""The job process: a supervisor that takes a slot, runs the computation in a child and enforces the time limit.

Embedded default: ``python -m components.jobs.worker``, a fresh interpreter the
web server starts (:mod:`components.jobs.runner`); it reads ``{"token",
"job_id"}`` from its stdin once the job record names it. With ``REDIS_URL``:
the Celery task ``gppnmf.run_job`` calls :func:`run_job` in a pool process.

:func:`run_job` supervises one job:

1. on the embedded default it takes a job slot (:func:`~components.jobs.slots.job_slot`),
   first come, first served, saying "queued: N jobs ahead of yours" in the
   record while it waits;
2. it marks the record running and forks the computation (:func:`compute_job`),
   a child that dies with its parent;
3. it waits for the child at most the record's time limit: a child that
   overruns is killed from outside, whatever it is doing (one long C call
   included), and the record says why; a child that dies without a final word
   is reported as stopped unexpectedly;
4. meanwhile it checks the record twice a second and kills the child of a job
   that was cancelled (how Cancel reaches a job on Celery), or that no page has
   polled for the job's grace period (the page was closed: it cancels the job
   itself); the embedded process also ends on SIGTERM (how Cancel reaches it),
   killing and reaping its child first, so that no orphan is left for a PID 1
   that may not reap.

The child runs the request by its **kind** (:data:`KINDS`: a decomposition, the
default; How sure? sampling, Suggest settings, Estimate σ², each in its own
``components/jobs/*_job.py``, storing its own entry). For a decomposition, the
child writes progress (at most five times a second), the results so far
each time a method finishes (:data:`components.jobs.PARTIAL`), then the results
(:func:`components.jobs.store_results`), the run in the session's history and
state "done", or "error" with a message for the page. When a job is stopped
(Cancel, time limit, page closed, a dead computation), the supervisor makes the
methods that finished the session's results, saying how the job ended
(:func:`components.jobs.end_partial`).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import time
from contextlib import nullcontext

from components.jobs import candidate_executor, compute, model_choice_job, noise_job, posterior_job, runner
from components.jobs.slots import job_slot
from components.services import store
from components.services.store import StoreError

log = logging.getLogger(__name__)

#: How often the supervisor looks at its child (seconds) and at the record.
WAIT_STEP_S = 0.05
CHECK_RECORD_EVERY_S = 0.5
#: Progress writes from the computation, at most one per this many seconds.
REPORT_EVERY_S = 0.2
_PR_SET_PDEATHSIG = 1


class JobGone(Exception):
    """The job's record ended (cancelled) or now belongs to another job: stop quietly."""


class JobTerminated(BaseException):
    """The embedded job process got SIGTERM (Cancel): kill and reap the computation, then exit."""


def _terminate(signum, frame):
    raise JobTerminated


def _timeout_message(timeout_s: float) -> str:
    return (f"stopped after {timeout_s:g} s, this server's time limit for a job (GPPNMF_JOB_TIMEOUT_S); "
            "try fewer iterations or replicates")


#: How a stopped job ended, as the results of the methods that finished say it ("… during CNMF").
ENDED_CANCELLED = "cancelled"
ENDED_PAGE_CLOSED = "cancelled (the page was closed)"
ENDED_TIME_LIMIT = "stopped at the time limit"
ENDED_DIED = "stopped unexpectedly"


def _ours(token: str, job_id: str) -> bool:
    record = runner.read(token)
    return record is not None and record.get("id") == job_id and record["state"] in runner.ACTIVE


def _abandoned(token: str, job_id: str, record: dict) -> bool:
    """Whether no page has polled this job for its grace period."""
    return runner.page_gone(record, runner.last_seen(token, record), time.time())


def _cancel_abandoned(token: str, job_id: str) -> None:
    runner.update(token, job_id, state="cancelled", status="cancelled", text="cancelled",
                      message=runner.PAGE_CLOSED_MESSAGE)
    log.warning("job %s cancelled: no page polled it for its grace period", job_id)


def _slot(token: str, job_id: str, record: dict):
    """An embedded job slot (saying so while it waits); nothing on Celery, whose concurrency caps jobs."""
    if record["backend"] != "embedded":
        return nullcontext()
    said = []

    def on_queue(ahead, running):
        if not _ours(token, job_id):
            raise JobGone
        if _abandoned(token, job_id, record):
            _cancel_abandoned(token, job_id)
            raise JobGone
        text = runner.queue_text(ahead, running)
        if said != [text]:
            said[:] = [text]
            runner.update(token, job_id, text=text)

    return job_slot(on_queue=on_queue, n_slots=record["limits"]["max_jobs"], enqueued=record["created"],
                    name=job_id)


def _end_partial(token: str, job_id: str, ended: str) -> None:
    """The methods that finished become the session's results (the computation is dead by now)."""
    try:
        compute.end_partial(token, job_id, ended)
    except Exception:  # the job's end must be recorded whatever the store says
        log.exception("job %s: could not keep the results of the methods that finished", job_id)


def run_job(token: str, job_id: str, compute=None) -> str:
    """Supervise job ``job_id`` of session ``token`` to its end; the outcome.

    Outcomes: "done", "error" (the computation reported one), "timeout",
    "died" (the computation ended without a word), "cancelled" and "gone" (the
    record was not this queued job). ``compute(token, job_id)`` runs in the
    child (default :func:`compute_job`).
    """
    record = runner.read(token)
    if record is None or record.get("id") != job_id or record["state"] != "queued":
        return "gone"
    if _abandoned(token, job_id, record):  # queued (on Celery) until after its page went away
        _cancel_abandoned(token, job_id)
        return "abandoned"
    try:
        with _slot(token, job_id, record):
            if not runner.update(token, job_id, state="running", text="starting", started=time.time()):
                return "gone"
            return _supervise(token, job_id, compute or compute_job, record["limits"]["timeout_s"])
    except JobGone:
        return "gone"


def _supervise(token: str, job_id: str, compute, timeout_s: float) -> str:
    """Fork the computation and wait for it, killing it when it overruns or its job is cancelled."""
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        _child_main(compute, token, job_id, parent)
    try:
        return _wait_for_child(token, job_id, child, timeout_s)
    except JobTerminated:
        _stop(child)  # reaped here: an orphan might never be (not every PID 1 reaps)
        _end_partial(token, job_id, ENDED_CANCELLED)
        raise
    finally:
        candidate_executor.stop_candidates(job_id)  # a killed Suggest-settings job cannot revoke its own tasks


def _wait_for_child(token: str, job_id: str, child: int, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    next_check = time.monotonic() + CHECK_RECORD_EVERY_S
    while True:
        pid, wait_status = os.waitpid(child, os.WNOHANG)
        if pid:
            return _after_child(token, job_id, os.waitstatus_to_exitcode(wait_status))
        now = time.monotonic()
        if now >= deadline:
            _stop(child)
            _end_partial(token, job_id, ENDED_TIME_LIMIT)
            runner.update(token, job_id, state="error", status="stopped", fraction=0.0, text="stopped",
                              message=_timeout_message(timeout_s))
            log.warning("job %s stopped at its time limit of %g s", job_id, timeout_s)
            return "timeout"
        if now >= next_check:
            next_check = now + CHECK_RECORD_EVERY_S
            record = runner.read(token)
            if record is None or record.get("id") != job_id or record["state"] not in runner.ACTIVE:
                _stop(child)
                _end_partial(token, job_id, ENDED_CANCELLED)
                return "cancelled"
            if _abandoned(token, job_id, record):
                _stop(child)
                _end_partial(token, job_id, ENDED_PAGE_CLOSED)
                _cancel_abandoned(token, job_id)
                return "abandoned"
        time.sleep(min(WAIT_STEP_S, max(0.0, deadline - now)))


def _stop(child: int) -> None:
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(child, 0)


def _after_child(token: str, job_id: str, exit_code: int) -> str:
    """The outcome once the child has ended; a record it left active says the computation was lost."""
    record = runner.read(token)
    if record is not None and record.get("id") == job_id and record["state"] in runner.ACTIVE:
        how = f"signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"
        _end_partial(token, job_id, ENDED_DIED)
        runner.update(token, job_id, state="error", status="failed", text="failed",
                          message=f"The job stopped unexpectedly (its computation ended with {how}). "
                                  "Press Run to try again.")
        log.warning("job %s: the computation ended with %s", job_id, how)
        return "died"
    return "done" if record is not None and record["state"] == "done" else "error"


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux); leave now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # elsewhere the progress writer notices the orphaning instead
    if os.getppid() != parent:
        os._exit(1)


def _child_main(compute, token: str, job_id: str, parent: int) -> None:
    """The forked computation: never returns (``os._exit``), so nothing of the parent's runs twice."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # dies at once, even inside one long C call
        _die_with_parent(parent)
        compute(token, job_id)
        code = 0
    except BaseException:  # compute_job reports its own errors; anything else is a bug, logged
        log.exception("job %s: the computation failed", job_id)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _decompose(token: str, job_id: str, request: dict, report) -> None:
    """A decomposition (Run): the chosen methods, their results so far as each finishes, the run kept."""
    dataset, prior_D, prior_H, settings = compute.prepare(request, token)
    key, specs = request["specs"]["dataset"], request["specs"]

    def keep_so_far(results, pending):
        compute.store_results(token, key, dataset, settings, results, specs, job_id=job_id, pending=pending,
                              name=compute.PARTIAL)

    results = compute.run_decomposition(dataset, prior_D, prior_H, settings, report_every_s=REPORT_EVERY_S,
                                        report=report, on_result=keep_so_far)
    meta = compute.store_results(token, key, dataset, settings, results, specs, job_id=job_id)
    store.delete(token, compute.PARTIAL)
    compute.keep_run(token, meta)


#: What each job kind runs: ``run(token, job_id, request, report)``, ``report(fraction, text)``; it stores
#: its own output. A stopped job of another kind than a decomposition keeps nothing.
KINDS = {
    runner.DECOMPOSE: _decompose,
    posterior_job.KIND: posterior_job.run,
    model_choice_job.KIND: model_choice_job.run,
    noise_job.KIND: noise_job.run,
}


def compute_job(token: str, job_id: str) -> None:
    """Run the job's request (by its kind) and write its progress, results and outcome into the record."""
    parent = os.getppid()

    def write(**fields):
        if os.getppid() != parent:
            os._exit(1)  # the supervisor is gone (where the kernel does not kill orphans for us)
        if not runner.update(token, job_id, **fields):
            raise JobGone

    try:
        request = runner.read(token)["request"]
        kind = runner.kind_of(request)
        if kind not in KINDS:
            raise ValueError(f"this server cannot run jobs of kind {kind[:40]!r}")
        KINDS[kind](token, job_id, request, lambda fraction, text: write(fraction=fraction, text=text))
        write(state="done", status="done", fraction=1.0, text="done")
    except JobGone:
        return
    except (ValueError, StoreError) as exc:  # written for the page
        runner.update(token, job_id, state="error", status="failed", text="failed", message=str(exc))
    except Exception as exc:  # shown on the page; logged with its traceback
        log.exception("job %s: the computation failed", job_id)
        runner.update(token, job_id, state="error", status="failed", text="failed",
                      message=f"The job failed: {type(exc).__name__}: {exc}")


def main(compute=None) -> int:
    """Entry point of the embedded job process: read the handshake from stdin, run the job."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s job[%(process)d] %(levelname)s %(message)s")
    handshake = sys.stdin.read()
    if not handshake:
        return 0  # the web server could not record the job: there is nothing to run
    request = json.loads(handshake)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        run_job(request["token"], request["job_id"], compute)
    except JobTerminated:
        pass  # cancelled: the slot is released, the computation killed and reaped
    return 0


if __name__ == "__main__":
    sys.exit(main())
