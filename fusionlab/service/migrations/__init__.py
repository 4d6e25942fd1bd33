"""Alembic migrations of the service's schema, shipped inside the package.

:func:`fusionlab.service.db.migrate` applies them at start; a maintainer adds
a revision with ``alembic -c fusionlab/service/migrations/alembic.ini
revision -m "..."`` (the ini points Alembic here).
"""
