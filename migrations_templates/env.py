"""Alembic environment of one database's migrations, written by ``flash db makemigrations``.

flash_db runs this file for every migration command. All of the work is in
``flash_db.migrations.env.run_migrations``: the async engine driven through
``run_sync``, type and server-default comparison, SQLite batch mode, and only
the tables of the models that live on this database. Edit this file to pass
your own ``context.configure()`` options, e.g. ``include_object``::

    run_migrations(configure={"include_schemas": True})
"""

from flash_db.migrations.env import run_migrations

run_migrations()
