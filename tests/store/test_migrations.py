"""Alembic revisions build exactly the tables of ``schema.py``, and old schemas are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from cairn.core.errors import SchemaOutOfDate
from cairn.store.sql import SqlStore, migrate
from cairn.store.sql.engine import sqlalchemy_url
from cairn.store.sql.migrate import alembic_config, head_revision, upgrade
from cairn.store.sql.schema import SCHEMA_HEAD, metadata
from cairn.store.sql.similar import pair_rows

# SQLAlchemy cannot reflect indexes on expressions (the text-prefix indexes of params and tags)
# and says so; compare_metadata then leaves them out, so test_expression_indexes_exist checks
# them directly.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
]

EXPRESSION_INDEXES = {"ix_params_key_text", "ix_tags_key_value"}


def _index_names(engine: Engine) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index'"
        if engine.dialect.name == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    )
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(text(query))}


def test_expression_indexes_exist(tmp_path: Path) -> None:
    store = SqlStore(str(tmp_path / "x.db"))
    assert EXPRESSION_INDEXES <= _index_names(store._engines.write)
    store.close()


@pytest.mark.postgres
def test_expression_indexes_exist_on_postgres(postgres_url: str) -> None:
    store = SqlStore(postgres_url)
    assert EXPRESSION_INDEXES <= _index_names(store._engines.write)
    store.close()


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _revision(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def test_sqlite_migrations_match_the_schema(tmp_path: Path) -> None:
    engine = create_engine(sqlalchemy_url(str(tmp_path / "m.db")))
    upgrade(engine)
    assert _tables(engine) == set(metadata.tables) | {"alembic_version"}
    assert _differences(engine) == []
    assert _revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    engine = create_engine(sqlalchemy_url(str(tmp_path / "m.db")))
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")
    assert _tables(engine) <= {"alembic_version"}
    upgrade(engine)
    assert _differences(engine) == []
    engine.dispose()


@pytest.mark.postgres
def test_postgres_migrations_match_the_schema(postgres_url: str) -> None:
    SqlStore(postgres_url).close()  # sets the session database up if nothing has yet
    engine = create_engine(sqlalchemy_url(postgres_url))
    try:
        assert set(metadata.tables) <= _tables(engine)
        assert _differences(engine) == []
        assert _revision(engine) == SCHEMA_HEAD
    finally:
        engine.dispose()


def test_schema_head_is_the_single_alembic_head() -> None:
    script = ScriptDirectory(str(Path(migrate.__file__).parent / "migrations"))
    assert script.get_heads() == [SCHEMA_HEAD]
    assert head_revision() == SCHEMA_HEAD
    # The chain from the head goes back to a first revision without gaps.
    chain = list(script.walk_revisions())
    assert chain[0].revision == SCHEMA_HEAD
    assert chain[-1].down_revision is None


@pytest.mark.parametrize("revision", ["0000_before_time", "9999_from_the_future"])
def test_a_store_at_another_revision_is_refused(tmp_path: Path, revision: str) -> None:
    path = str(tmp_path / "old.db")
    SqlStore(path).close()
    engine = create_engine(sqlalchemy_url(path))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()

    with pytest.raises(SchemaOutOfDate) as raised:
        SqlStore(path)
    assert "cairn db upgrade" in raised.value.message
    assert path in raised.value.message
    assert raised.value.details == {"revision": revision, "expected": SCHEMA_HEAD}
    assert raised.value.http_status == 503


def test_an_empty_database_is_refused_when_not_initialising(tmp_path: Path) -> None:
    path = str(tmp_path / "empty.db")
    with pytest.raises(SchemaOutOfDate) as raised:
        SqlStore(path, initialise=False)
    assert "cairn db upgrade" in raised.value.message
    # Nothing was created behind the caller's back.
    engine = create_engine(sqlalchemy_url(path))
    assert _tables(engine) == set()
    engine.dispose()
    # The default opens a new database by setting it up.
    SqlStore(path).close()
    engine = create_engine(sqlalchemy_url(path))
    assert _differences(engine) == []
    engine.dispose()


def test_0007_fills_param_pairs_and_summary_projects_for_existing_runs(tmp_path: Path) -> None:
    engine = create_engine(sqlalchemy_url(str(tmp_path / "old.db")))
    upgrade(engine, "0006_server_secrets")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO projects VALUES ('p1', 'p', '', 0)"))
        for run_id, start in (("r1", 10), ("r2", 20)):
            connection.execute(
                text(
                    "INSERT INTO runs (id, project_id, name, user_name, status, start_time, notes, deleted) "
                    "VALUES (:id, 'p1', :id, 'u', 'finished', :start, '', 0)"
                ),
                {"id": run_id, "start": start},
            )
            connection.execute(
                text("INSERT INTO params VALUES (:id, 'lr', 'float', '0.1', 0.1), (:id, 'opt', 'str', 'adam', NULL)"),
                {"id": run_id},
            )
        connection.execute(
            text(
                "INSERT INTO metric_summaries (run_id, key, last_value, last_step, last_timestamp, count) VALUES "
                "('r1', 'acc', 0.5, 0, 0, 1)"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        pairs = connection.execute(text("SELECT project_id, pair, start_time, run_id FROM param_pairs")).all()
        projects = connection.execute(text("SELECT project_id FROM metric_summaries")).scalars().all()
    engine.dispose()
    expected = pair_rows("r1", "p1", 10, {"lr": 0.1, "opt": "adam"}) + pair_rows(
        "r2", "p1", 20, {"lr": 0.1, "opt": "adam"}
    )
    assert sorted(tuple(row) for row in pairs) == sorted(tuple(r.values()) for r in expected)
    assert projects == ["p1"]
    # The store then finds r1 near r2 through the filled index.
    store = SqlStore(str(tmp_path / "old.db"))
    try:
        assert [(s.run.id, s.distance) for s in store.similar_runs("r2")] == [("r1", 0)]
        assert store.metric_rank("p1", "acc", 0.4, lower_is_better=False) == (1, 1)
    finally:
        store.close()
