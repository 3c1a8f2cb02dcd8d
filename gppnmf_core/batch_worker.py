"""A Celery worker for ``gppnmf batch`` without the dashboard: ``celery -A gppnmf_core.batch_worker worker``.

Needs ``REDIS_URL`` (``redis://:<password>@host:6379/0``) and the ``scale`` extra
(celery, redis). The app's own workers (``celery -A app:celery_app worker``)
run the same task; this module is for machines that have only the library.
Set ``GPPNMF_BATCH_SHARED_ROOT`` to let the worker read ``--shared-fs`` paths below it.
"""

import os

from .batch import make_celery

if not os.environ.get("REDIS_URL"):
    raise RuntimeError("set REDIS_URL (redis://:<password>@host:6379/0) for the gppnmf batch worker")

#: The worker's Celery app (JSON-only, the batch task registered).
app = make_celery(os.environ["REDIS_URL"], "gppnmf-batch-worker")
app.conf.update(worker_prefetch_multiplier=1)
