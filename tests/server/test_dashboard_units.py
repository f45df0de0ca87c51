"""The dashboard's pure helpers: column fields, splitting a ``cols`` list,
markdown that is safe to embed, value formatting, chart groups and the artifact folder view."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.artifacts import Artifact
from cairn.core.entities import MetricSummary, Run, RunStatus
from cairn.core.errors import InvalidQuery
from cairn.core.query.ast import Source
from cairn.core.query.parser import parse_query
from cairn.core.query.text import field_text
from cairn.server.ui.charts import ChartGroup, chart_groups
from cairn.server.ui.columns import Column, default_columns, parse_columns
from cairn.server.ui.run_page import folder_entries
from cairn.server.ui.runs import join_fields, split_fields
from cairn.server.ui.templating import render_markdown, templates

# -- columns ----------------------------------------------------------------------------------


_KEYS = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(source=st.sampled_from(["params", "metrics", "tags"]), key=_KEYS)
def test_any_key_survives_field_text_and_a_cols_list(source: str, key: str) -> None:
    text = field_text(source, key)
    assert Column.parse(text).key == key
    assert split_fields(join_fields(["name", text, "status"])) == ["name", text, "status"]


def _run(**changes: object) -> Run:
    summary = MetricSummary("val/acc", last=0.8, last_step=9, last_timestamp=2_000, min=0.1, max=0.9, count=10)
    base: dict[str, object] = dict(
        id="r" * 32,
        project_id="p",
        project="vision",
        name="bright-owl",
        user="ada",
        status=RunStatus.FINISHED,
        start_time=1_000,
        end_time=61_000,
        parent_id=None,
        notes="",
        deleted=False,
        params={"lr": 0.1, "opt.name": "adam"},
        tags={"team": "a"},
        metrics={"val/acc": summary},
    )
    base.update(changes)
    return Run(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("params.lr", 0.1),
        ("params.opt.name", "adam"),
        ("params.missing", None),
        ("tags.team", "a"),
        ("metrics.val/acc", 0.8),
        ("metrics.val/acc.min", 0.1),
        ("metrics.val/acc.max", 0.9),
        ("metrics.val/acc.count", 10),
        ("metrics.absent", None),
        ("name", "bright-owl"),
        ("status", "finished"),
        ("duration", 60_000),
        ("created", 1_000),
        ("parent", None),
    ],
)
def test_column_value(text: str, value: object) -> None:
    assert Column.parse(text).value(_run()) == value


def test_column_labels_and_kinds() -> None:
    best = Column.parse(" metrics.val/acc.max ")
    assert (best.field, best.source, best.label, best.group, best.numeric) == (
        "metrics.val/acc.max",
        Source.METRIC,
        "val/acc (max)",
        "metrics",
        True,
    )
    assert (Column.parse("duration").numeric, Column.parse("params.lr").numeric) == (True, False)
    assert Column.parse("created").group == "attribute"


@pytest.mark.parametrize("text", ["dataset.name", "bogus", "params.", "metrics.x >"])
def test_column_parse_refuses_what_is_no_column(text: str) -> None:
    with pytest.raises(InvalidQuery):
        Column.parse(text)


def test_parse_columns_drops_duplicates_and_reports_bad_ones() -> None:
    columns, problems = parse_columns(["name", "bogus", " ", "name", "params.lr"])
    assert [c.field for c in columns] == ["name", "params.lr"]
    assert len(problems) == 1 and problems[0].startswith("column 'bogus'")


def test_default_columns_show_the_headline_metrics_and_skip_system_ones() -> None:
    metrics = ["system/cpu", "train/loss", "val/acc", "test/f1", "lr", "system/gpu", "val/loss", "zeta"]
    params = ["z", "a", "b", "c", "d"]
    assert default_columns(params, metrics) == [
        "name",
        "status",
        "user",
        "created",
        "duration",
        "metrics.val/acc",
        "metrics.test/f1",
        "metrics.val/loss",
        "metrics.train/loss",
        "params.a",
        "params.b",
        "params.c",
        "params.d",
    ]
    # Only system metrics: those, rather than none.
    assert default_columns([], ["system/cpu"])[-1] == "metrics.system/cpu"
    assert default_columns([], []) == ["name", "status", "user", "created", "duration"]


# -- the cols list -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("name, params.lr ,tags.team", ["name", "params.lr", "tags.team"]),
        ('name,metrics."a,b",params.x', ["name", 'metrics."a,b"', "params.x"]),
        ("params.'x, y'.z,status", ["params.'x, y'.z", "status"]),
        ('params."say ""a,b"""', ['params."say ""a,b"""']),
        (",, name,,", ["name"]),
        ("", []),
    ],
)
def test_split_fields_keeps_commas_inside_quotes(text: str, fields: list[str]) -> None:
    assert split_fields(text) == fields


# -- markdown ---------------------------------------------------------------------------------


def test_markdown_renders_but_raw_html_stays_text() -> None:
    html = str(render_markdown("**bold** and <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>"))
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    assert str(render_markdown("")) == ""


def test_markdown_marks_mentions_but_not_emails() -> None:
    html = str(render_markdown("thanks @ada.lovelace, and mail a@b.com or @@nobody."))
    assert '<span class="mention">@ada.lovelace</span>,' in html
    assert "a@b.com" in html and html.count('class="mention"') == 1


def test_a_mention_inside_a_link_target_is_left_alone() -> None:
    html = str(render_markdown('[profile](https://example.com/@ada "by @ada")'))
    assert 'href="https://example.com/@ada"' in html and 'title="by @ada"' in html
    assert 'class="mention"' not in html


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4="]
)
def test_dangerous_link_targets_are_refused(link: str) -> None:
    html = str(render_markdown(f"[click]({link}) and <{link}>"))
    assert "href" not in html
    assert "[click]" in html


def test_a_safe_link_stays_a_link() -> None:
    assert '<a href="https://example.com/x?a=1&amp;b=2">docs</a>' in str(
        render_markdown("[docs](https://example.com/x?a=1&b=2)")
    )


# -- formatting -------------------------------------------------------------------------------


def test_the_dashboard_formats_with_the_core_display_rules() -> None:
    """One answer for every surface (tests/core/test_display.py); the dashboard adds only its
    zone: UTC, named, because its readers sit in many zones."""
    filters = templates.filters
    assert filters["value"](math.inf) == "inf" and filters["value"](True) == "true"
    assert filters["value"](0.123456789) == "0.123457" and filters["value"](None) == "—"
    assert filters["signed"](0.25) == "+0.25" and filters["signed"](-math.inf) == "-inf"
    assert filters["duration"](192_000) == "3m 12s"
    assert filters["bytes"](1536) == "1.5 KiB"
    assert filters["time"](1_714_564_991_500) == "2024-05-01 12:03:11 UTC"
    assert filters["iso"](1_714_564_991_500) == "2024-05-01T12:03:11Z"
    assert templates.globals["ago"](1_714_564_991_500, 1_714_564_991_500 + 3 * 86_400_000) == "3 days ago"
    assert templates.globals["ago"](None, 0) == "—"


# -- run pages --------------------------------------------------------------------------------


def test_chart_groups_by_prefix_unprefixed_first() -> None:
    keys = ["val/acc", "loss", "train/loss", "val/loss", "lr", "train/deep/x"]
    assert chart_groups(keys) == [
        ChartGroup("", ["loss", "lr"]),
        ChartGroup("train", ["train/deep/x", "train/loss"]),
        ChartGroup("val", ["val/acc", "val/loss"]),
    ]
    assert chart_groups([]) == []


def _artifact(path: str, size: int) -> Artifact:
    return Artifact("r", path, "0" * 64, size, "file", "application/octet-stream", {}, 0)


def test_folder_entries_show_subfolders_first_with_their_totals() -> None:
    artifacts = [
        _artifact("model.pt", 100),
        _artifact("plots/b.png", 5),
        _artifact("plots/a.png", 7),
        _artifact("plots/deep/c.png", 11),
        _artifact("cairn/console.log", 3),
        _artifact("a.txt", 1),
    ]
    top = folder_entries(artifacts, "")
    assert [(e.name, e.path, e.is_folder, e.size, e.files) for e in top] == [
        ("cairn", "cairn", True, 3, 1),
        ("plots", "plots", True, 23, 3),
        ("a.txt", "a.txt", False, 1, 1),
        ("model.pt", "model.pt", False, 100, 1),
    ]
    assert top[2].artifact is artifacts[5] and top[0].artifact is None

    plots = folder_entries(artifacts, "plots")
    assert [(e.name, e.path, e.is_folder) for e in plots] == [
        ("deep", "plots/deep", True),
        ("a.png", "plots/a.png", False),
        ("b.png", "plots/b.png", False),
    ]
    assert folder_entries(artifacts, "plot") == []  # a prefix of a folder's name is not the folder
    assert folder_entries([], "") == []


def test_the_search_placeholder_is_a_query_on_the_projects_own_metric() -> None:
    from cairn.server.ui.runs import example_query

    assert example_query(["train/loss", "val/acc"]) == "Query runs, e.g. metrics.val/acc > 0.9 and status = 'finished'"
    assert example_query(["loss"]) == "Query runs, e.g. metrics.loss < 0.5 and status = 'finished'"
    assert "name like" in example_query([])
    for metrics in (["train/loss", "val/acc"], ["loss"], []):
        text = example_query(metrics).removeprefix("Query runs, e.g. ")
        parse_query(text)  # the example is a query that parses


# -- the model registry's pages ----------------------------------------------------------------


def test_the_model_filter_is_a_part_of_the_name_unless_it_is_a_pattern() -> None:
    from cairn.server.ui.models import name_pattern

    assert name_pattern("") is None
    assert name_pattern("iris") == "%iris%"
    assert name_pattern("iris%") == "iris%"  # a pattern is taken as it is
    assert name_pattern("a_b") == "%a_b%"


def test_each_current_alias_comes_with_the_move_that_put_it_there() -> None:
    from cairn.core.registry import AliasMove, RegisteredModel
    from cairn.server.ui.models import current_aliases

    moves = [
        AliasMove("m", "champion", None, 1, "ada", 1_000),
        AliasMove("m", "shadow", None, 1, "ada", 1_500),
        AliasMove("m", "champion", 1, 2, "bo", 2_000),
        AliasMove("m", "shadow", 1, None, "bo", 2_500),  # removed: not an alias now
    ]
    model = RegisteredModel("m", "", {}, 0, 0, 2, {"champion": 2, "zeta": 1})
    found = current_aliases(model, moves)
    assert [(a.alias, a.version) for a in found] == [("champion", 2), ("zeta", 1)]
    assert found[0].last_move is moves[2]
    assert found[1].last_move is None  # no recorded move: shown without who and when
