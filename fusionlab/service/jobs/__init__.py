"""Background jobs: what a worker computes, who runs it, how results are stored.

- :mod:`~fusionlab.service.jobs.tasks` -- the work itself, run in a worker
  process: JSON in, JSON out (arrays as ``.npy`` files), nothing pickled;
- :mod:`~fusionlab.service.jobs.backends` -- where it runs: a *spawn*
  process pool in the server, or Celery workers;
- :mod:`~fusionlab.service.jobs.store` -- writing a job's outcome in one
  transaction;
- :mod:`~fusionlab.service.jobs.runner` -- the loop that claims queued jobs,
  reports progress, requeues jobs a crash left behind.
"""
