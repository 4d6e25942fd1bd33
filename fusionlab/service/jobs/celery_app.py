"""The Celery application of ``--jobs celery`` (the ``service-celery`` extra).

Workers run :func:`fusionlab.service.jobs.tasks.run_task_json`, the same
task as the local pool; messages and results are JSON only (``accept_content
= ["json"]``), never pickle. Start a worker with::

    FUSIONLAB_BROKER=redis://127.0.0.1:6379/0 \\
        celery -A fusionlab.service.jobs.celery_app worker -Q fusionlab --pool solo

(``--pool solo`` or ``threads``: each task may train a TensorFlow model,
which should not share a forked process.)
"""

from __future__ import annotations

import os

from celery import Celery

__all__ = ["make_celery", "app"]


def make_celery(broker: str) -> Celery:
    """A Celery app on ``broker`` (also the result back end), JSON only."""
    celery = Celery("fusionlab", broker=broker, backend=broker)
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
    )

    @celery.task(name="fusionlab.run_task")
    def run_task(kind, payload_json, progress_path=None):
        from .tasks import init_worker, run_task_json

        init_worker()
        return run_task_json(kind, payload_json, progress_path)

    return celery


#: The worker's app (``celery -A fusionlab.service.jobs.celery_app worker``).
app = make_celery(os.environ.get("FUSIONLAB_BROKER", "redis://127.0.0.1:6379/0"))
