"""The tables, in SQLAlchemy Core. Alembic revisions create them; a test checks the two agree.

Metric points are not one row each: ``metric_chunks`` holds packed little-endian arrays of
steps, timestamps and values for one (run, key), with the chunk's step range, min, max and
count, so a million points is a handful of rows. ``metric_summaries`` keeps what search and
sort need (last, min, max, count) and is updated in the same transaction as the chunks.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    func,
    text,
)

#: The newest Alembic revision; the store refuses a database at any other revision.
SCHEMA_HEAD = "0018_prediction_log_mismatches"

metadata = MetaData()

#: Characters of a text value that its index holds (see ix_tags_key_value).
VALUE_PREFIX = 200

# Tables keyed by a text id are WITHOUT ROWID on SQLite: the primary key is then the table's
# own B-tree, so looking a run's param or summary up takes one search instead of two. That
# made searches over 100,000 runs about 2.5 times faster.

projects = Table(
    "projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Soft, as a run's: MLflow's deleted experiments are restored by id.
    Column("deleted", Boolean, nullable=False, server_default=false()),
)

#: A project's tags (MLflow's experiment tags).
project_tags = Table(
    "project_tags",
    metadata,
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("user_name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("notes", Text, nullable=False),
    Column("deleted", Boolean, nullable=False),
    # sha256 over the run's normalised params (and, once captured, code, data and environment
    # digests): runs with the same fingerprint repeat each other.
    Column("fingerprint", String(64), nullable=True),
    # Live runs newest first, counted, and the latest start and end per project: all from
    # indexes, without reading the runs themselves.
    Index("ix_runs_project_start", "project_id", "deleted", "start_time", "id"),
    Index("ix_runs_project_end", "project_id", "deleted", "end_time"),
    Index("ix_runs_project_fingerprint", "project_id", "fingerprint"),
    # A run's children, newest first (the run page lists them). On parent_id alone SQLite
    # still walked ix_runs_project_start for its order: 64 ms at 100,000 runs, 1 ms now.
    Index("ix_runs_parent", "parent_id", "project_id", "deleted", "start_time", "id"),
    sqlite_with_rowid=False,
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value_type", String(8), nullable=False),
    Column("value_text", Text, nullable=True),
    # Numbers (and booleans as 0/1) again as a float, so queries compare them as numbers.
    Column("value_number", Float, nullable=True),
    # Search looks params up by key and value across runs: numbers whole, text by a prefix
    # (see tags below for why).
    Index("ix_params_key_number", "key", "value_number"),
    Index("ix_params_key_text", "key", func.substr(text("value_text"), 1, VALUE_PREFIX)),
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    # Equality on a tag's value, answered from the index: a prefix, since PostgreSQL refuses
    # B-tree entries over ~2.7 kB and a tag may hold 6,000 characters. Queries compare the
    # same prefix first (cairn.store.sql.search), then the whole value.
    Index("ix_tags_key_value", "key", func.substr(text("value"), 1, VALUE_PREFIX)),
    sqlite_with_rowid=False,
)

# Near misses (cairn.store.sql.similar): each param of a run again as a 64-bit hash of its
# (key, normalised value) pair, beside the run's project and start time, so the earlier runs
# that share one pair with a run are one index range, newest first. Written with the params.
param_pairs = Table(
    "param_pairs",
    metadata,
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("pair", BigInteger, primary_key=True, autoincrement=False),
    Column("start_time", BigInteger, primary_key=True, autoincrement=False),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    # A run's own pairs, and what deleting a run removes.
    Index("ix_param_pairs_run", "run_id", "pair"),
    sqlite_with_rowid=False,
)

metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    # NULL when every value in the chunk is NaN.
    Column("min_value", Float, nullable=True),
    Column("max_value", Float, nullable=True),
    Column("steps", LargeBinary, nullable=False),
    Column("timestamps", LargeBinary, nullable=False),
    Column("values", LargeBinary, nullable=False),
    Index("ix_metric_chunks_run_key", "run_id", "key", "id"),
)

metric_summaries = Table(
    "metric_summaries",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    # The run's project again (runs never move), so that a run's rank in its project by a
    # metric is a count over one index range, ix_metric_summaries_project_key_last, without
    # reading a run per summary: 5 ms instead of 90 ms for 58,000 runs ahead on SQLite.
    Column("project_id", String(32), nullable=False),
    # NULL stands for NaN: SQLite cannot store NaN, so both backends use the same convention.
    Column("last_value", Float, nullable=True),
    Column("last_step", BigInteger, nullable=False),
    Column("last_timestamp", BigInteger, nullable=False),
    Column("min_value", Float, nullable=True),
    Column("max_value", Float, nullable=True),
    Column("count", BigInteger, nullable=False),
    Index("ix_metric_summaries_key_last", "key", "last_value"),
    Index("ix_metric_summaries_project_key_last", "project_id", "key", "last_value"),
    sqlite_with_rowid=False,
)

ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("client_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("points", Integer, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)


# -- artifacts and datasets -------------------------------------------------------------------
# Bytes live in the blob store under their SHA-256; these tables say which run holds which
# digest under which path. ``blobs`` is the database's record of what the blob store holds:
# artifacts may only point at a digest recorded there, and ``cairn gc`` deletes bytes only after
# deleting their row, so the database is where an upload and a collection meet.

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Refreshed whenever a client uploads or asks for these bytes: gc spares recent blobs, so an
    # upload in flight is never collected under it.
    Column("last_seen_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("media_type", String(250), nullable=False),
    Column("meta", Text, nullable=False),  # JSON
    Column("created_at", BigInteger, nullable=False),
    Index("ix_artifacts_digest", "digest"),
    sqlite_with_rowid=False,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ux_datasets_project_name", "project_id", "name", unique=True),
    sqlite_with_rowid=False,
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("dataset_id", String(32), ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source_uri", Text, nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("rows", BigInteger, nullable=True),
    Column("columns", Integer, nullable=True),
    Column("schema", Text, nullable=False),  # JSON
    Column("profile", Text, nullable=False),  # JSON
    Column("stored", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ux_dataset_versions_digest", "dataset_id", "digest", unique=True),
    sqlite_with_rowid=False,
)

dataset_files = Table(
    "dataset_files",
    metadata,
    Column("version_id", String(32), ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_dataset_files_digest", "digest"),
    sqlite_with_rowid=False,
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("version_id", String(32), ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("context", String(64), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_run_inputs_version", "version_id"),
    sqlite_with_rowid=False,
)


# -- snapshots: trees of path → digest, versioned like commits --------------------------------

snapshots = Table(
    "snapshots",
    metadata,
    # The digest of the kind and the tree: identical trees are one snapshot.
    Column("id", String(64), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("parent_id", String(64), nullable=True),
    Column("message", Text, nullable=False),
    Column("meta", Text, nullable=False),  # JSON
    Column("created_at", BigInteger, nullable=False),
    Index("ix_snapshots_project_kind", "project_id", "kind", "created_at"),
    sqlite_with_rowid=False,
)

snapshot_files = Table(
    "snapshot_files",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("project_id", String(32), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_snapshot_files_digest", "digest"),
    sqlite_with_rowid=False,
)

run_snapshots = Table(
    "run_snapshots",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("snapshot_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_run_snapshots_snapshot", "snapshot_id"),
    sqlite_with_rowid=False,
)


# -- discussion: comments on runs, saved views of a project's runs -----------------------------

comments = Table(
    "comments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("author", String(250), nullable=False),
    Column("body", Text, nullable=False),  # markdown, as written
    Column("mentions", Text, nullable=False),  # JSON list of names
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=True),
    Index("ix_comments_run_created", "run_id", "created_at"),
    sqlite_with_rowid=False,
)

saved_views = Table(
    "saved_views",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("query", Text, nullable=False),
    Column("order_by", Text, nullable=False),
    Column("columns", Text, nullable=False),  # JSON list of fields
    Column("charts", Text, nullable=False),  # JSON list of metric keys
    Column("group_by", Text, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ux_saved_views_project_name", "project_id", "name", unique=True),
    sqlite_with_rowid=False,
)


# -- the model registry: registered models, their versions, aliases and stages ----------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(250), nullable=False),
    Column("description", Text, nullable=False),
    # The highest version number given out: versions are numbered by bumping it under the row's
    # lock, so two concurrent registrations get two numbers, and a number is never reused.
    Column("latest_version", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ux_registered_models_name", "name", unique=True),
    sqlite_with_rowid=False,
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

# The primary key (model_id, version) is also the listing's order: 10,000 versions of a model
# are one range of it, newest first by walking it backwards.
model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    # No foreign key: a version outlives the purge of its run, as a release outlives its CI job.
    Column("run_id", String(32), nullable=False),
    Column("source_path", String(1000), nullable=False),
    Column("tree_digest", String(64), nullable=False),
    Column("flavor", String(250), nullable=False),
    Column("signature", Text, nullable=True),  # JSON
    Column("stage", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_model_versions_run", "run_id"),
    Index("ix_model_versions_stage", "model_id", "stage"),
    sqlite_with_rowid=False,
)

_VERSION_FK = ("model_versions.model_id", "model_versions.version")

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_id", String(32), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    ForeignKeyConstraint(["model_id", "version"], _VERSION_FK, ondelete="CASCADE"),
    sqlite_with_rowid=False,
)

# Lineage: the dataset versions the source run used, copied when the version is registered, so
# "which data trained @champion" and "which versions came from this data" are one index each.
model_version_datasets = Table(
    "model_version_datasets",
    metadata,
    Column("model_id", String(32), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("dataset_version_id", String(32), ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("context", String(64), primary_key=True),
    ForeignKeyConstraint(["model_id", "version"], _VERSION_FK, ondelete="CASCADE"),
    Index("ix_model_version_datasets_dataset", "dataset_version_id"),
    sqlite_with_rowid=False,
)

# The primary key makes an alias point at one version at a time.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", String(32), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", BigInteger, nullable=False),
    ForeignKeyConstraint(["model_id", "version"], _VERSION_FK, ondelete="CASCADE"),
    Index("ix_model_aliases_version", "model_id", "version"),
    sqlite_with_rowid=False,
)

# Every set, move and removal of an alias, in order; kept after the alias is gone.
alias_history = Table(
    "alias_history",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("from_version", BigInteger, nullable=True),
    Column("to_version", BigInteger, nullable=True),
    Column("moved_by", String(250), nullable=False),
    Column("moved_at", BigInteger, nullable=False),
    Index("ix_alias_history_model_moved", "model_id", "moved_at"),
    sqlite_with_rowid=False,
)


# -- reviews: protected aliases move only by merging a review ---------------------------------------

# A protection may name an alias no version holds yet: protecting @champion comes first.
alias_protections = Table(
    "alias_protections",
    metadata,
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("required_approvals", Integer, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_by", String(250), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # The model role a reviewer needs to approve, and the one needed to merge (docs/access.md).
    Column("approve_role", String(16), nullable=False, server_default="editor"),
    Column("merge_role", String(16), nullable=False, server_default="maintainer"),
    sqlite_with_rowid=False,
)

_PROTECTION_FK = ("alias_protections.model_id", "alias_protections.alias")

alias_protection_checks = Table(
    "alias_protection_checks",
    metadata,
    Column("model_id", String(32), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("check_text", Text, nullable=False),
    ForeignKeyConstraint(["model_id", "alias"], _PROTECTION_FK, ondelete="CASCADE"),
    sqlite_with_rowid=False,
)

# Ids count up across the store (``cairn reviews show 7``) and are never reused, even after the
# model and its reviews are deleted: events name a review by its id.
reviews = Table(
    "reviews",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("base_version", BigInteger, nullable=True),
    Column("state", String(16), nullable=False),
    Column("author", String(250), nullable=False),
    Column("description", Text, nullable=False),
    Column("required_approvals", Integer, nullable=False),
    Column("checks_ran_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("merged_by", String(250), nullable=True),
    Column("merged_at", BigInteger, nullable=True),
    Column("merged_from_version", BigInteger, nullable=True),
    Column("closed_by", String(250), nullable=True),
    Column("closed_at", BigInteger, nullable=True),
    ForeignKeyConstraint(["model_id", "version"], _VERSION_FK, ondelete="CASCADE"),
    Index("ix_reviews_model_state", "model_id", "state", "id"),
    Index("ix_reviews_state", "state", "id"),
    sqlite_autoincrement=True,
)

# The checks as they last ran, replaced whole each time they run.
review_check_results = Table(
    "review_check_results",
    metadata,
    Column("review_id", BigInteger, ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("check_text", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("observed", Text, nullable=False),  # JSON
    Column("message", Text, nullable=False),
    sqlite_with_rowid=False,
)

# Each reviewer's latest vote: a new one replaces it.
review_votes = Table(
    "review_votes",
    metadata,
    Column("review_id", BigInteger, ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
    Column("reviewer", String(250), primary_key=True),
    Column("decision", String(32), nullable=False),
    Column("voted_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# The thread: comments, and every vote with its text, in the order written (by id).
review_comments = Table(
    "review_comments",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("review_id", BigInteger, ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False),
    Column("author", String(250), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body", Text, nullable=False),  # markdown, as written
    Column("mentions", Text, nullable=False),  # JSON list of names
    Column("reply_to", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_review_comments_review", "review_id", "id"),
    sqlite_autoincrement=True,
)


# -- the event log: append-only, in the order written ----------------------------------------------

# ``seq`` orders the log and pages it; ``subject`` is a path (``models/NAME/versions/3``), so a
# model's events and its versions' are one prefix range of ix_events_subject_seq.
events = Table(
    "events",
    metadata,
    # INTEGER PRIMARY KEY on SQLite is the rowid, which counts up by itself.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject", String(1000), nullable=False),
    Column("actor", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("data", Text, nullable=False),  # JSON
    Index("ux_events_id", "id", unique=True),
    Index("ix_events_type_seq", "type", "seq"),
    Index("ix_events_subject_seq", "subject", "seq"),
)


# -- webhooks: subscriptions to event types, and the deliveries queued for them (an outbox) ------

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("description", Text, nullable=False),
    # Kept in the clear: every delivery is signed with it. Reads show a fingerprint only.
    Column("secret", String(512), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# A webhook's patterns (``*``, ``review.*``, ``model_version.created``), in the order given. An
# event finds its webhooks by looking up the three patterns that name its type in
# ix_webhook_event_types_pattern, inside the transaction that appends it.
webhook_event_types = Table(
    "webhook_event_types",
    metadata,
    Column("webhook_id", String(32), ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("pattern", String(64), nullable=False),
    Index("ix_webhook_event_types_pattern", "pattern"),
    sqlite_with_rowid=False,
)

# One row per (webhook, event), written with the event: deliveries survive a restart, and any
# number of server processes share them. A worker claims a due row by setting ``lease_until``
# and a ``lease_token`` only where no live lease is (a conditional UPDATE: one winner), and
# records the attempt only while the token is still its own.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("webhook_id", String(32), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_seq", BigInteger, ForeignKey("events.seq"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt_count", Integer, nullable=False),
    # attempt_count when the delivery was queued or last redelivered: the retry schedule counts
    # the attempts after it.
    Column("round_start", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("lease_token", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Index("ux_webhook_deliveries_webhook_event", "webhook_id", "event_seq", unique=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sqlite_with_rowid=False,
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", String(32), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("started_at", BigInteger, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("response", Text, nullable=False),
    sqlite_with_rowid=False,
)


# -- server secrets: keys all server processes of one store share ------------------------------

# A secret is made once, by whichever process first needs it, and read by every other: so page
# tokens signed by one replica verify on another, and after a restart.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# -- access (docs/access.md) ----------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(250), nullable=False),
    Column("email", String(320), nullable=False),
    # argon2id, in its PHC string form; NULL for accounts that sign in only by SSO or token.
    Column("password_hash", String(200), nullable=True),
    Column("is_admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("is_service", Boolean, nullable=False),
    # "local", or the OpenID Connect issuer that provisioned the account…
    Column("source", String(500), nullable=False),
    # …and its subject there (the `sub` claim), which stays when a user renames themself.
    Column("external_id", String(500), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ux_users_external", "source", "external_id", unique=True),
    sqlite_with_rowid=False,
)

# Only the SHA-256 of a token is kept; `hint` is its first characters, for listings.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_api_tokens_user", "user_id", "created_at"),
    sqlite_with_rowid=False,
)

# Browser sessions, by the SHA-256 of their id: a stolen database holds no usable cookie.
sessions = Table(
    "sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("address", String(64), nullable=True),
    Index("ix_sessions_user", "user_id"),
    sqlite_with_rowid=False,
)

teams = Table(
    "teams",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

team_members = Table(
    "team_members",
    metadata,
    Column("team", String(100), ForeignKey("teams.name", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_team_members_user", "user_id"),
    sqlite_with_rowid=False,
)

# Who holds which role where: a user or team (subject) on a project or model (resource), by
# name. ix_grants_subject answers "what may this user see" for listings.
grants = Table(
    "grants",
    metadata,
    Column("resource_kind", String(16), primary_key=True),
    Column("resource", String(250), primary_key=True),
    Column("subject_kind", String(16), primary_key=True),
    Column("subject", String(100), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("granted_by", String(250), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
    Index("ix_grants_subject", "subject_kind", "subject", "resource_kind"),
    sqlite_with_rowid=False,
)

# Sign-in attempts, for the rate limit: one row per attempt per key (a user name, an address),
# pruned as they age out of the window.
sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("attempted_at", BigInteger, nullable=False),
    Index("ix_sign_in_attempts_key", "key", "attempted_at"),
)

# Single sign-ons started and not yet finished, by the SHA-256 of their ``state``: the row is
# deleted when the provider sends the browser back, so a state is good once (docs/access.md).
sso_logins = Table(
    "sso_logins",
    metadata,
    Column("state_digest", String(64), primary_key=True),
    Column("nonce", String(100), nullable=False),
    Column("code_verifier", String(200), nullable=False),
    Column("next_path", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_sso_logins_created", "created_at"),
    sqlite_with_rowid=False,
)


# -- prediction logs: the Parquet files `cairn serve` writes, per model version and hour -------------
# One row per file (docs/prediction-logs.md); the bytes are a blob, like an artifact's, so gc
# keeps them while a row names them. Listings read a version's (or a model's) files by their
# first prediction time, a range of one index each.
prediction_logs = Table(
    "prediction_logs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_id", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("hour_ms", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("first_ms", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The input columns that do not match the version's signature: a JSON list, read and written
    # whole with its row and never queried by SQL; and the rows they concern.
    Column("mismatches", Text, nullable=False, server_default="[]"),
    Column("mismatched_rows", BigInteger, nullable=False, server_default="0"),
    # The files go with their version (and so with their model); the bytes stay until gc.
    ForeignKeyConstraint(["model_id", "version"], _VERSION_FK, ondelete="CASCADE"),
    Index("ix_prediction_logs_version_time", "model_id", "version", "first_ms", "id"),
    Index("ix_prediction_logs_model_time", "model_id", "first_ms", "id"),
    Index("ix_prediction_logs_digest", "digest"),
    sqlite_with_rowid=False,
)

# A logged model's record (core/logged_models.py); its files are its run's artifacts under
# models/<id>. Tags and params are JSON objects: they are read and written whole, a few at a
# time, and never queried by SQL (a project holds few logged models; see service/logged_models.py).
logged_models = Table(
    "logged_models",
    metadata,
    Column("id", String(34), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("source_run_id", String(32), nullable=True),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_message", Text, nullable=False),
    Column("model_type", String(250), nullable=False),
    Column("tags", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Index("ix_logged_models_project", "project_id", "deleted", "created_at"),
    Index("ix_logged_models_run", "run_id"),
    sqlite_with_rowid=False,
)


# -- monitoring (docs/monitoring.md) ------------------------------------------------------------

# Ground truth that arrives after the predictions: Parquet files of (request_id, label,
# timestamp_ms) per model version, their bytes a blob, as prediction logs' are.
prediction_labels = Table(
    "prediction_labels",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_id", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("first_ms", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["model_id", "version"], _VERSION_FK, ondelete="CASCADE"),
    Index("ix_prediction_labels_version_time", "model_id", "version", "first_ms", "id"),
    Index("ix_prediction_labels_digest", "digest"),
    sqlite_with_rowid=False,
)

# A monitor watches a registered model through an alias (or one fixed version). Its settings are
# one JSON document, read and written whole. Evaluations are claimed like webhook deliveries:
# due when next_run_at has passed and no live lease is held, so one process evaluates a monitor
# at a time however many servers run.
monitors = Table(
    "monitors",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("alias", String(250), nullable=True),
    Column("version", BigInteger, nullable=True),
    Column("config", Text, nullable=False),
    Column("schedule_s", BigInteger, nullable=False),
    Column("next_run_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=True),
    Column("lease_token", String(32), nullable=True),
    Column("last_run_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ux_monitors_model_name", "model_id", "name", unique=True),
    Index("ix_monitors_due", "next_run_at"),
    sqlite_with_rowid=False,
)

# One evaluated window of a monitor, for one model version: kept so the dashboard's heatmap and
# the alerts read results instead of recomputing them. A window is evaluated once it has ended.
monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("monitor_id", String(32), ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("end_ms", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("drifted_share", Float, nullable=False),
    Column("drifted", Boolean, nullable=False),
    Column("breached", Boolean, nullable=False),
    Column("result", Text, nullable=False),
    Column("evaluated_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# An alert is one episode of breaches: opened by the first breached window, kept (not fired
# again) while later windows breach, resolved by a window without a breach or by hand.
monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("monitor_id", String(32), ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("first_window_ms", BigInteger, nullable=False),
    Column("last_window_ms", BigInteger, nullable=False),
    Column("breached_windows", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("acknowledged_by", String(250), nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    Column("resolved_by", String(250), nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Index("ix_monitor_alerts_monitor", "monitor_id", "status", "opened_at"),
    sqlite_with_rowid=False,
)
