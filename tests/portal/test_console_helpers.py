"""The console's portal helpers: CSV cells, SVG charts, the panel registry."""

import csv
import io

import pytest
from django.test import RequestFactory

from portal.charts import Series, _nice_max, bar_chart
from portal.csv_export import csv_rows, safe_cell, streaming_csv
from portal.dashboard import panels, register_panel
from portal.models import Workspace


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
        (5, "5"),
        ({"a": 1}, '{"a": 1}'),
    ],
)
def test_safe_cell_defuses_formulas(value, expected):
    assert safe_cell(value) == expected


@pytest.mark.django_db
def test_csv_rows_stream_the_queryset_with_a_header():
    Workspace.objects.create(name="=cmd()", location_id="loc-1")
    response = streaming_csv(csv_rows(Workspace.objects.all(), ["name", "location_id"]), "w.csv")
    body = b"".join(response.streaming_content).decode()
    assert list(csv.reader(io.StringIO(body))) == [["name", "location_id"], ["'=cmd()", "loc-1"]]
    assert response["Content-Disposition"] == 'attachment; filename="w.csv"'


def test_nice_axis_maximum():
    assert [_nice_max(v) for v in (0, 1, 3, 7, 11, 480)] == [1, 1, 5, 10, 20, 500]


def test_bar_chart_draws_one_rect_per_nonzero_value_and_escapes_names():
    svg = bar_chart(
        [Series("ok", [1, 0, 3]), Series("<b>bad</b>", [0, 2, 0])], ["00", "01", "02"], "T<x>"
    )
    assert svg.count('<rect class="bar"') == 3
    assert "<b>bad</b>" not in svg and "&lt;b&gt;bad&lt;/b&gt;" in svg
    assert "T&lt;x&gt;" in svg
    assert "style=" not in svg  # colours are attributes: the console runs under a CSP


def test_panels_are_registered_by_key_in_order():
    register_panel("zz-test", "t.html", lambda request: {"n": 1}, order=999)
    register_panel("zz-test", "t2.html", lambda request: {"n": 2}, order=999)
    mine = [p for p in panels() if p.key == "zz-test"]
    assert len(mine) == 1 and mine[0].template == "t2.html"
    assert mine[0].build(RequestFactory().get("/")) == {"n": 2}
    assert panels()[-1].key == "zz-test"
