"""MLflow's search filters and order_by, translated into Cairn's query language.

The semantic tests hold Cairn to MLflow's own reference: a set of runs is written into an
embedded Cairn store, the same runs are built as ``mlflow.entities.Run`` objects, and for every
filter and order the runs Cairn's engine returns must be exactly, and in the same order, what
``mlflow.utils.search_utils.SearchUtils.filter`` and ``sort`` select from the MLflow side.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.core.artifacts import DatasetSpec
from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.metrics import MetricBatch, MetricColumns
from cairn.core.query.ast import Compare
from cairn.core.query.parser import parse_order, parse_query
from cairn.core.query.values import parse_instant
from cairn.server.mlflow.errors import INVALID_PARAMETER_VALUE, MlflowApiError
from cairn.server.mlflow.filters import (
    MAX_CLAUSES,
    filter_experiments,
    mlflow_param_text,
    sort_experiments,
    translate_order_by,
    translate_run_filter,
)
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore

mlflow = pytest.importorskip("mlflow", reason="the MLflow client is in the test extra")
np = pytest.importorskip("numpy")

from mlflow import entities as ml  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils  # noqa: E402

PROJECT = "mlflow-filters"
BASE_TIME = 1_700_000_000_000
PARAM_KEYS = ["lr", "opt", "model.depth"]
PARAM_TEXTS = ["0.1", "0.01", "adam", "Adam", "a_b", "50%", "x'y", "a\\b", "True", ""]
TAG_KEYS = ["team", "note"]
TAG_TEXTS = ["vision", "Vision", "nlp", "a_b", "50%", "v1.0", "it''s"]
METRIC_VALUES = [0.1, 0.5, 0.9, -1.0, 0.25, 3.0, math.inf, -math.inf]  # NaN: see docs/query.md
DATASETS = ["mnist", "Mnist", "cifar"]
CONTEXTS = ["train", "eval"]
DIGESTS = ["d" * 64, "e" * 64]
USERS = ["ada", "bob"]
NAMES = ["base-1", "base-2", "Tuned", "x_y"]


# -- unit tests of the translation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("mlflow_filter", "cairn_query"),
    [
        ("", ""),
        ("and", ""),
        ("metrics.a > 1 metrics.b < 2 and", "metrics.a > 1.0 and metrics.b < 2.0"),
        ("metrics.acc > 0.5", "metrics.acc > 0.5"),
        ("metric.acc >= -1", "metrics.acc >= -1.0"),
        ("params.lr = '0.1'", "params.lr = '0.1' or params.lr = 0.1"),
        ("params.opt = 'adam'", "params.opt = 'adam'"),
        ("params.opt != 'adam'", "not params.opt = 'adam'"),
        ("param.flag = 'True'", "params.flag = 'True' or params.flag = true"),
        ('params.n = "5"', "params.n = '5' or params.n = 5"),
        ("tags.`mlflow.user` = 'ada'", "user = 'ada'"),
        ("tags.\"mlflow.runName\" LIKE 'base%'", "name like 'base%'"),
        ("tags.team ILIKE '%VIS%'", "tags.team ilike '%VIS%'"),
        ("tags.team IS NULL and params.lr is not null", "tags.team is null and params.lr is not null"),
        ("attributes.status = 'FINISHED'", "status in ('finished')"),
        ("status != 'RUNNING'", "status in ('finished', 'failed', 'killed')"),
        ("attribute.status LIKE 'F%'", "status in ('finished', 'failed')"),
        ("status = 'SCHEDULED'", "id is null"),
        ("status ILIKE '%'", "status is not null"),
        ("attributes.run_id IN ('a', 'b')", "id in ('a', 'b')"),
        ("run_id NOT IN ('a')", "id not in ('a')"),
        ("attributes.run_name = 'x'", "name = 'x'"),
        ("`Run name` = 'x'", "name = 'x'"),
        ("attr.user_id = 'ada'", "user = 'ada'"),
        ("attributes.start_time >= 1700000000000", "created >= '2023-11-14T22:13:20.000+00:00'"),
        ("created < 1700000000000.5", "created <= '2023-11-14T22:13:20.000+00:00'"),
        ("end_time = 1.5", "id is null"),
        ("end_time < 1e300", "ended is not null"),
        ("metrics.acc = 1e999", "metrics.acc > 1.7976931348623157e+308"),
        ("metrics.acc > -1e999", "metrics.acc >= -1.7976931348623157e+308"),
        ("metrics.`val loss` < 1", 'metrics."val loss" < 1.0'),
        ('metrics."a.b" < 1', 'metrics."a.b" < 1.0'),
        ("metrics.a.b < 1", 'metrics."a.b" < 1.0'),
        ("params.x LIKE 'a\\%'", "params.x like 'a\\\\%'"),
        ("datasets.name = 'mnist'", "dataset.name = 'mnist'"),
        ("dataset.context IN ('train', 'eval')", "dataset.context in ('train', 'eval')"),
        ("datasets.digest != 'd1'", "dataset.digest < 'd1' or dataset.digest > 'd1'"),
        (
            "metrics.x > 0.5 AND params.lr = '0.1' and tags.t = 'v'",
            "metrics.x > 0.5 and (params.lr = '0.1' or params.lr = 0.1) and tags.t = 'v'",
        ),
    ],
)
def test_translation(mlflow_filter: str, cairn_query: str) -> None:
    translated = translate_run_filter(mlflow_filter)
    assert translated == cairn_query
    parse_query(translated)  # Cairn reads it back


@pytest.mark.parametrize(
    ("order_by", "cairn_order"),
    [
        ([], "created desc, id"),
        (["metrics.acc DESC"], "metrics.acc desc, created desc, id"),
        (["params.p", "tags.t asc"], "params.p, tags.t, created desc, id"),
        (["attributes.start_time ASC"], "created, id"),
        (["start_time DESC", "run_id"], "created desc, id"),
        (["metrics.`val loss`", "tags.`mlflow.runName` DESC"], 'metrics."val loss", name desc, created desc, id'),
        (["status", "end_time desc", "run_name", "user_id"], "status, ended desc, name, user, created desc, id"),
    ],
)
def test_order_by(order_by: list[str], cairn_order: str) -> None:
    assert translate_order_by(order_by) == cairn_order
    parse_order(cairn_order)


@pytest.mark.parametrize(
    ("mlflow_filter", "in_message"),
    [
        ("metrics.acc > 0.5 or metrics.acc < 0.1", "position 18"),
        ("metrics.acc > 'a'", "numeric"),
        ("params.lr > '0.1'", "position 10"),
        ("params.lr = 0.1", "quoted string"),
        ("tags.t IN ('a')", "comparator"),
        ("status IN ('FINISHED')", "only run_id"),
        ("metrics.acc IS NULL", "comparator"),
        ("foo.bar = 'x'", "entity type"),
        ("attributes.nope = 'x'", "attribute key"),
        ("attributes.artifact_uri = 'x'", "artifact_uri"),
        ("attributes.lifecycle_stage = 'active'", "attribute key"),
        ("datasets.size = 'x'", "dataset key"),
        ("datasets.name NOT IN ('a', 'b')", "NOT IN"),
        ("metrics.acc > 0.5 and (", "position 22"),
        ("metrics.acc >", "value"),
        ("(metrics.acc > 0.5)", "position 0"),
        ("metrics.acc == 1", "comparator"),
        ("params.lr NOT LIKE 'a'", "comparator"),
        ("run_id IN ()", "list"),
        ("run_id IN (1, 2)", "list"),
        ("params.x = 'unterminated", "unterminated"),
        ("params.x = `a`", "value"),
        ("metrics.x > 1 metrics.y", "position 23"),
        ("start_time > '2020-01-01'", "numeric"),
        ("metrics.x # 1", "unexpected character"),
        ("params.x = 'a\x00'", "position 13"),
    ],
)
def test_malformed_filters_are_invalid_parameter_values(mlflow_filter: str, in_message: str) -> None:
    with pytest.raises(MlflowApiError) as raised:
        translate_run_filter(mlflow_filter)
    assert raised.value.mlflow_code == INVALID_PARAMETER_VALUE
    assert in_message in raised.value.message
    # MLflow's own parser refuses them too, but for what Cairn cannot answer (or store: NUL)
    if not any(part in mlflow_filter for part in ("artifact_uri", "NOT IN ('a', 'b')", "\x00")):
        with pytest.raises(MlflowException):
            SearchUtils.filter([_EMPTY_RUN], mlflow_filter)


@pytest.mark.parametrize(
    "huge",
    [
        "metrics.a > 1 and " * 5000,
        "params.a = '" + "\\'" * 20_000,
        "run_id IN (" + "'a', " * 20_000 + ")",
        "tags." + ".x" * 20_000 + " = 'x'",
        "metrics." + "a" * 100_000 + " > 1",
    ],
)
def test_huge_filters_are_refused_quickly(huge: str) -> None:
    with pytest.raises(MlflowApiError):
        translate_run_filter(huge)


def test_long_numbers_are_numbers() -> None:
    assert translate_run_filter("metrics.a > " + "1" * 5000) == "id is null"  # greater than inf
    assert translate_run_filter("params.a = '" + "1" * 5000 + "'") == "params.a = '" + "1" * 5000 + "'"


def test_the_most_clauses_translate_and_parse() -> None:
    # each becomes two conditions (the text and the int it may be): within Cairn's 500
    parse_query(translate_run_filter(" and ".join(f"params.p = '{i}'" for i in range(MAX_CLAUSES))))


@pytest.mark.parametrize(
    "order_by",
    [["metrics.acc sideways"], ["nope"], ["datasets.name"], ["metrics.a", "metrics.a desc"], ["metrics.a,"], [""]],
)
def test_malformed_order_by(order_by: list[str]) -> None:
    with pytest.raises(MlflowApiError):
        translate_order_by(order_by)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_any_filter_string_translates_or_is_invalid_parameter_value(text: str) -> None:
    try:
        query = translate_run_filter(text)
    except MlflowApiError as error:
        assert error.mlflow_code == INVALID_PARAMETER_VALUE
    else:
        parse_query(query)


_PIECES = st.sampled_from(
    ["metrics.", "params.", "tags.", "attributes.", "datasets.", "status", "run_id", "start_time", "acc", "`a b`",
     '"q"', "'v'", "'", '"', "`", " = ", " != ", " > ", " LIKE ", " ILIKE ", " IN ", " NOT ", " IS ", " NULL ",
     " and ", " OR ", "(", ")", ", ", "1", "-2.5e3", "1e999", ".", "\\", "%", "\x00", "é"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join), st.lists(st.lists(_PIECES, max_size=4).map("".join), max_size=3))
def test_near_miss_filters_and_orders_never_fail_otherwise(text: str, order_by: list[str]) -> None:
    for translate, argument in ((translate_run_filter, text), (translate_order_by, order_by)):
        try:
            result = translate(argument)  # type: ignore[operator]
        except MlflowApiError as error:
            assert error.mlflow_code == INVALID_PARAMETER_VALUE
        else:
            (parse_query if translate is translate_run_filter else parse_order)(result)


@given(st.integers(-(2**62), 2**62))
def test_times_are_written_as_dates_cairn_reads_back_to_the_millisecond(millis: int) -> None:
    query = translate_run_filter(f"attributes.start_time = {millis}")
    expr = parse_query(query)
    if isinstance(expr, Compare):  # within the years 1 to 9999
        assert parse_instant(str(expr.value)) == millis
    else:  # beyond them no run can start
        assert query == "id is null"


def test_param_text_is_what_mlflow_logs() -> None:
    assert [mlflow_param_text(v) for v in (0.1, 5, True, None, "x", 1e-05)] == [
        "0.1",
        "5",
        "True",
        "None",
        "x",
        "1e-05",
    ]


# -- the runs, on both sides ---------------------------------------------------------------------


_EMPTY_RUN = ml.Run(ml.RunInfo("r", "0", "u", "FINISHED", 0, None, "active"), ml.RunData())


class Written:
    """The runs as Cairn stored them and as MLflow would hold them, in the same order."""

    def __init__(self, cairn: list[Run], mlflow: list[ml.Run]) -> None:
        self.cairn, self.mlflow = cairn, mlflow

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Written({len(self.cairn)} runs)"

    @property
    def ids(self) -> list[str]:
        return [run.id for run in self.cairn]


def _populate(tracking: TrackingService) -> Written:
    rng = random.Random(20261204)
    runs: list[Run] = []
    mlflow_runs: list[ml.Run] = []
    for index in range(36):
        # What an MLflow client logs: every param as text.
        params = {key: rng.choice(PARAM_TEXTS) for key in PARAM_KEYS if rng.random() < 0.75}
        tags = {key: rng.choice(TAG_TEXTS) for key in TAG_KEYS if rng.random() < 0.6}
        start = BASE_TIME + rng.choice([0, 1, 2, 5]) * 60_000  # equal times test the id tie-break
        run = tracking.create_run(
            PROJECT, name=rng.choice(NAMES), config=params, tags=tags, start_time=start, user=rng.choice(USERS)
        )
        metrics: dict[str, float] = {}
        columns = []
        for key in ("acc", "loss"):
            if rng.random() < 0.7:
                values = [rng.choice(METRIC_VALUES) for _ in range(rng.randint(1, 3))]
                steps = np.arange(len(values), dtype=np.int64)
                columns.append(MetricColumns(key, steps, steps + start, np.array(values)))
                metrics[key] = values[-1]
        if columns:
            tracking.log_metrics(run.id, MetricBatch("populate", index, columns))
        inputs = []
        for _ in range(rng.choice([0, 1, 1, 2])):
            name, digest, context = rng.choice(DATASETS), rng.choice(DIGESTS), rng.choice(CONTEXTS)
            tracking.log_dataset(
                run.id, DatasetSpec(name=name, digest=digest, source_uri="", source_kind="file"), context
            )
            inputs.append(
                ml.DatasetInput(
                    ml.Dataset(name, digest, "local", "file:///x"), [ml.InputTag("mlflow.data.context", context)]
                )
            )
        end = None
        if rng.random() < 0.7:
            status = rng.choice([RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED])
            end = start + rng.choice([1000, 3_600_000])
            tracking.update_run(run.id, RunUpdate(status=status, end_time=end))
        stored = tracking.get_run(run.id)
        runs.append(stored)
        info = ml.RunInfo(
            run_id=run.id, experiment_id="1", user_id=stored.user, status=stored.status.value.upper(),
            start_time=start, end_time=end, lifecycle_stage="active", run_name=stored.name,
        )  # fmt: skip
        system_tags = {"mlflow.runName": stored.name, "mlflow.user": stored.user}
        data = ml.RunData(
            metrics=[ml.Metric(key, value, start, 0) for key, value in metrics.items()],
            params=[ml.Param(key, value) for key, value in params.items()],
            tags=[ml.RunTag(key, value) for key, value in {**tags, **system_tags}.items()],
        )
        mlflow_runs.append(ml.Run(info, data, ml.RunInputs(dataset_inputs=inputs)))
    return Written(runs, mlflow_runs)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def written(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TrackingService, Written]]:
    if request.param == "sqlite":
        store = SqlStore(str(tmp_path_factory.mktemp("mlflow-filters") / "runs.db"))
    else:
        store = SqlStore(request.getfixturevalue("postgres_url"))
    tracking = TrackingService(store, Principal("t"))
    yield tracking, _populate(tracking)
    if request.param == "postgres":  # the session's database, shared with other modules
        with store._engines.write.begin() as connection:
            connection.exec_driver_sql(
                "TRUNCATE events, snapshot_files, snapshots, blobs, ingest_batches, metric_summaries, metric_chunks, "
                "tags, params, runs, projects CASCADE"
            )
    tracking.close()


def _cairn_ids(tracking: TrackingService, mlflow_filter: str, order_by: list[str]) -> list[str]:
    page = tracking.list_runs(
        PROJECT, where=translate_run_filter(mlflow_filter), order_by=translate_order_by(order_by), limit=1000
    )
    return [run.id for run in page.items]


def _mlflow_ids(written: Written, mlflow_filter: str, order_by: list[str]) -> list[str]:
    selected = SearchUtils.filter(written.mlflow, mlflow_filter)
    return [run.info.run_id for run in SearchUtils.sort(selected, order_by)]


def _quoted(text: str) -> str:
    # MLflow takes the text between the quotes as it is: no quote inside can be escaped.
    return f'"{text}"' if "'" in text else f"'{text}'"


@st.composite
def clauses(draw: st.DrawFn) -> str:
    """A clause of MLflow's grammar over the written runs; ``{0}``…``{5}`` stand for run ids."""
    choice = draw(st.integers(0, 8))
    comparators = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
    text_comparators = st.sampled_from(["=", "!=", "LIKE", "ILIKE"])
    patterns = st.sampled_from(["a%", "%b", "_d%", "A%", "%", "50%", "x'%", "%\\%", "base%", "%1%", "0._", "%i%"])
    if choice == 0:
        value = draw(st.sampled_from([0.1, 0.5, 0.25, -1, 3, 0, "1e999", "-1e999", "1e3"]))
        return f"{draw(st.sampled_from(['metrics.acc', 'metric.loss', 'metrics.gone']))} {draw(comparators)} {value}"
    if choice in (1, 2):
        key = draw(st.sampled_from(["params.lr", "params.opt", "params.`model.depth`", "param.missing"]))
        if choice == 2 and draw(st.booleans()):
            return f"{key} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
        comparator = draw(text_comparators)
        value = draw(patterns if "LIKE" in comparator else st.sampled_from(PARAM_TEXTS))
        return f"{key} {comparator} {_quoted(value)}"
    if choice == 3:
        key = draw(st.sampled_from(["tags.team", "tags.note", "tags.`mlflow.user`", 'tags."mlflow.runName"']))
        if draw(st.integers(0, 4)) == 0:
            return f"{key} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
        comparator = draw(text_comparators)
        value = draw(patterns if "LIKE" in comparator else st.sampled_from(TAG_TEXTS + USERS + NAMES))
        return f"{key} {comparator} {_quoted(value)}"
    if choice == 4:
        key = draw(st.sampled_from(["attributes.status", "status"]))
        comparator = draw(text_comparators)
        value = draw(st.sampled_from(["FINISHED", "RUNNING", "FAILED", "finished", "F%", "%ED", "%i%", "SCHEDULED"]))
        return f"{key} {comparator} {_quoted(value)}"
    if choice == 5:
        key = draw(st.sampled_from(["attributes.run_name", "run_name", "attributes.user_id", "`Run Name`"]))
        comparator = draw(text_comparators)
        value = draw(patterns if "LIKE" in comparator else st.sampled_from(NAMES + USERS))
        return f"{key} {comparator} {_quoted(value)}"
    if choice == 6:
        key = draw(st.sampled_from(["attributes.start_time", "created", "end_time"]))
        offset = draw(st.sampled_from([-1, 0, 1, 60_000, 120_000, 300_000, 301_000, 3_660_000]))
        value = draw(st.sampled_from([str(BASE_TIME + offset), f"{BASE_TIME + offset}.5", "1e300", "-5"]))
        return f"{key} {draw(comparators)} {value}"
    if choice == 7:
        chosen = draw(st.lists(st.sampled_from([*(f"{{{i}}}" for i in range(6)), "nope"]), min_size=1, max_size=3))
        listed = ", ".join(_quoted(run_id) for run_id in chosen)
        if draw(st.booleans()):
            return f"attributes.run_id {draw(st.sampled_from(['IN', 'NOT IN']))} ({listed})"
        return f"run_id {draw(text_comparators)} {_quoted(chosen[0])}"
    key = draw(st.sampled_from(["datasets.name", "dataset.digest", "datasets.context"]))
    values = st.sampled_from(DATASETS + CONTEXTS + DIGESTS + ["m%", "%n%", "MN%"])
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return f"{key} {draw(text_comparators)} {_quoted(draw(values))}"
    if kind == 1:
        listed = ", ".join(_quoted(v) for v in draw(st.lists(values, min_size=1, max_size=3)))
        return f"{key} IN ({listed})"
    return f"{key} NOT IN ({_quoted(draw(values))})"


_ORDER_KEYS = ["metrics.acc", "metrics.loss", "params.lr", "params.opt", "tags.team", "attributes.start_time",
               "end_time", "run_name", "status", "user_id", "run_id", "tags.`mlflow.user`", "metrics.gone"]  # fmt: skip


@st.composite
def orders(draw: st.DrawFn) -> list[str]:
    keys = draw(st.lists(st.sampled_from(_ORDER_KEYS), max_size=3, unique=True))
    return [key + draw(st.sampled_from(["", " ASC", " DESC", " desc"])) for key in keys]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(clauses(), max_size=3).map(" and ".join), orders())
def test_filters_select_and_order_as_mlflow_does(
    written: tuple[TrackingService, Written], template: str, order_by: list[str]
) -> None:
    tracking, runs = written
    mlflow_filter = template.format(*runs.ids[:6])
    assert _cairn_ids(tracking, mlflow_filter, order_by) == _mlflow_ids(runs, mlflow_filter, order_by)


@pytest.mark.parametrize(
    "mlflow_filter",
    [
        "metrics.acc > 0.5 and params.lr = '0.1' and tags.`mlflow.user` = 'ada' and attributes.status = 'FINISHED'",
        "params.opt LIKE 'a%' and tags.team != 'nlp'",
        "params.opt = 'a\\b'",
        "params.lr = '0.1'",
        "tags.note = 'it''s'",
        "metrics.acc = 1e999",
        "metrics.acc < -1e998",
        "datasets.name != 'mnist'",
        "params.`model.depth` IS NULL and tags.team IS NOT NULL",
    ],
)
def test_examples_select_as_mlflow_does(written: tuple[TrackingService, Written], mlflow_filter: str) -> None:
    tracking, runs = written
    expected = _mlflow_ids(runs, mlflow_filter, [])
    assert _cairn_ids(tracking, mlflow_filter, []) == expected


def test_params_logged_through_cairn_match_their_mlflow_text(tmp_path: Path) -> None:
    tracking = TrackingService(SqlStore(str(tmp_path / "typed.db")), Principal("t"))
    try:
        typed = tracking.create_run("typed", config={"lr": 0.1, "flag": True, "n": 5, "opt": "adam"})
        text = tracking.create_run("typed", config={"lr": "0.1", "flag": "True", "n": "5", "opt": "sgd"})
        other = tracking.create_run("typed", config={"lr": 0.2, "flag": False, "n": 6, "opt": "0.1"})

        def selected(mlflow_filter: str) -> set[str]:
            return {run.id for run in tracking.list_runs("typed", where=translate_run_filter(mlflow_filter)).items}

        assert selected("params.lr = '0.1'") == {typed.id, text.id}
        assert selected("params.lr != '0.1'") == {other.id}
        assert selected("params.flag = 'True'") == {typed.id, text.id}
        assert selected("params.n = '5' and params.opt != '0.1'") == {typed.id, text.id}
        assert selected("params.lr = '0.10'") == set()  # MLflow's text of 0.1 is '0.1'
        assert selected("params.opt LIKE '0.%'") == {other.id}
    finally:
        tracking.close()


# -- experiments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    creation_time: int | None
    last_update_time: int | None
    tags: dict[str, str]


def _experiments() -> list[Experiment]:
    rng = random.Random(7)
    return [
        Experiment(
            str(index),
            rng.choice(["Default", "mnist", "mnist-2", "fraud", "Fraud_x", "a%b"]) + ("" if index < 5 else f"-{index}"),
            BASE_TIME + rng.choice([0, 1, 2]) * 1000,
            BASE_TIME + rng.choice([0, 5, 9]) * 1000,
            {key: rng.choice(["a", "b", "A"]) for key in ("team", "stage") if rng.random() < 0.6},
        )
        for index in range(1, 10)
    ]


def _as_mlflow(experiment: Experiment) -> ml.Experiment:
    return ml.Experiment(
        experiment.experiment_id,
        experiment.name,
        "",
        "active",
        [ml.ExperimentTag(k, v) for k, v in experiment.tags.items()],
        experiment.creation_time,
        experiment.last_update_time,
    )


@st.composite
def experiment_clauses(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 3))
    text_comparators = st.sampled_from(["=", "!=", "LIKE", "ILIKE"])
    if choice == 0:
        comparator = draw(text_comparators)
        values = ["m%", "%x", "MNIST%", "%a\\%%", "_raud%"] if "LIKE" in comparator else ["mnist", "Default", "fraud"]
        return f"{draw(st.sampled_from(['name', 'attribute.name']))} {comparator} '{draw(st.sampled_from(values))}'"
    if choice == 1:
        key = draw(st.sampled_from(["creation_time", "attribute.last_update_time"]))
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return f"{key} {op} {BASE_TIME + draw(st.sampled_from([0, 1000, 2000, 5000, 9000]))}"
    if choice == 2:
        key = draw(st.sampled_from(["tags.team", "tag.stage", "tags.`none`"]))
        if draw(st.booleans()):
            return f"{key} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
        return f"{key} {draw(text_comparators)} '{draw(st.sampled_from(['a', 'A', 'b', '%', 'a%']))}'"
    listed = ", ".join(f"'{i}'" for i in draw(st.lists(st.sampled_from("1234"), min_size=1, max_size=3)))
    return f"experiment_id {draw(st.sampled_from(['IN', 'NOT IN']))} ({listed})"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(experiment_clauses(), max_size=3).map(" and ".join),
    st.lists(
        st.sampled_from(["name", "creation_time", "last_update_time", "experiment_id"]), max_size=2, unique=True
    ).flatmap(lambda keys: st.tuples(*[st.sampled_from([k, f"{k} ASC", f"{k} DESC"]) for k in keys])),
)
def test_experiment_filters_match_mlflow(mlflow_filter: str, order_by: tuple[str, ...]) -> None:
    experiments = _experiments()
    ours = sort_experiments(filter_experiments(experiments, mlflow_filter), list(order_by))
    # MLflow's server (its SQL store) orders by creation time, newest first, when given no order.
    server_order = list(order_by) or ["creation_time DESC", "experiment_id ASC"]
    theirs = SearchExperimentsUtils.sort(
        SearchExperimentsUtils.filter([_as_mlflow(e) for e in experiments], mlflow_filter), server_order
    )
    assert [e.experiment_id for e in ours] == [e.experiment_id for e in theirs]


def test_experiments_default_order_is_newest_first_then_id() -> None:
    experiments = _experiments()
    ordered = sort_experiments(experiments, [])
    assert ordered == sorted(experiments, key=lambda e: (-(e.creation_time or 0), int(e.experiment_id)))


@pytest.mark.parametrize(
    "mlflow_filter",
    [
        "attributes.name = 'x'",
        "params.x = 'a'",
        "name > 'a'",
        "creation_time = 'x'",
        "experiment_id LIKE '1%'",
        "name IN ('a')",
        "name = 'a' OR name = 'b'",
    ],  # fmt: skip
)
def test_malformed_experiment_filters(mlflow_filter: str) -> None:
    with pytest.raises(MlflowApiError):
        filter_experiments(_experiments(), mlflow_filter)
