"""Alembic environment: runs revisions on the engine that cairn.store.sql.migrate passes in."""

from alembic import context

from cairn.store.sql.schema import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
