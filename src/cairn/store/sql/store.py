"""The SQL metadata store: SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from cairn.store.sql.access import SqlAccessStore
from cairn.store.sql.artifacts import SqlArtifactStore
from cairn.store.sql.discussion import SqlDiscussionStore
from cairn.store.sql.engine import check_schema, create_engines
from cairn.store.sql.events import SqlEventStore
from cairn.store.sql.logged_models import SqlLoggedModelStore
from cairn.store.sql.metrics import SqlMetricStore
from cairn.store.sql.monitors import SqlMonitorStore
from cairn.store.sql.prediction_labels import SqlPredictionLabelStore
from cairn.store.sql.prediction_logs import SqlPredictionLogStore
from cairn.store.sql.registry import SqlRegistryStore
from cairn.store.sql.reviews import SqlReviewStore
from cairn.store.sql.runs import SqlRunStore
from cairn.store.sql.server_secrets import ServerSecrets
from cairn.store.sql.snapshots import SqlSnapshotStore
from cairn.store.sql.webhooks import SqlWebhookStore


class SqlStore(
    SqlAccessStore,
    SqlRunStore,
    SqlMetricStore,
    SqlArtifactStore,
    SqlSnapshotStore,
    SqlDiscussionStore,
    SqlRegistryStore,
    SqlLoggedModelStore,
    SqlPredictionLogStore,
    SqlPredictionLabelStore,
    SqlMonitorStore,
    SqlReviewStore,
    SqlEventStore,
    SqlWebhookStore,
):
    """Implements :class:`cairn.store.base.MetadataStore` on SQLAlchemy Core.

    Opening a store checks its schema revision: a new, empty database is set up, an older one
    is refused with the ``cairn db upgrade`` command to run.
    """

    def __init__(self, uri: str, *, initialise: bool = True) -> None:
        self.uri = uri
        self._engines = create_engines(uri)
        try:
            check_schema(self._engines, uri, initialise=initialise)
        except Exception:
            self._engines.dispose()
            raise
        self._secrets = ServerSecrets(self._engines)

    @property
    def dialect(self) -> str:
        return self._engines.write.dialect.name

    def close(self) -> None:
        self._engines.dispose()
