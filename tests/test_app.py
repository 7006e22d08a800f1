"""AppTest: the app and its pages on the default model."""
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO

pytestmark = pytest.mark.integration


def test_classify_page_shows_probabilities_and_reconstruction():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Classify"
    at.text_area(key="classify_text").set_value(
        "Manchester United beat Arsenal 2-0 to go top of the Premier League table.").run()
    assert not at.exception
    metric = at.metric[0]
    assert metric.label == "Predicted class" and metric.value == "Sports"
    assert at.get("plotly_chart"), "the probability chart is drawn"
    assert at.text[0].value.strip(), "the reconstruction is shown"


def test_example_buttons_fill_the_text_box():
    at = AppTest.from_file(str(REPO / "pages" / "classify.py"), default_timeout=120).run()
    at.button(key="example_Business").click().run()
    assert "Oil prices" in at.text_area(key="classify_text").value
    assert at.metric[0].value == "Business"


def test_empty_text_asks_for_input():
    at = AppTest.from_file(str(REPO / "pages" / "classify.py"), default_timeout=120).run()
    at.text_area(key="classify_text").set_value("   ").run()
    assert not at.exception and "Type a text" in at.info[0].value
