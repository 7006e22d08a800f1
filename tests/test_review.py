"""Fixing labels in the app (issue 41): Accept a suggestion and Undo on Debug's suspect labels, a bulk change after
its confirmation, the log and the export both ways."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from conftest import DEFAULT_MODEL, REPO

pytestmark = pytest.mark.integration
TIMEOUT = 180


def suspects_page(monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "user"))
    at = AppTest.from_file(str(REPO / "pages" / "debug.py"), default_timeout=TIMEOUT).run()
    at.radio(key="debug_view").set_value("Suspect labels").run()
    assert not at.exception, at.exception
    return at


def log_lines(tmp_path) -> list[dict]:
    files = list((tmp_path / "user").rglob("*.corrections.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_accept_a_suggestion_then_undo_it(monkeypatch, tmp_path):
    at = suspects_page(monkeypatch, tmp_path)
    first = at.dataframe[0].value.iloc[0]
    row, suggested = int(first["row"]), first["suggested"]
    accept = next(b for b in at.button if b.label == f"Accept suggestion: {suggested}")
    accept.click().run()
    assert not at.exception, at.exception
    lines = log_lines(tmp_path)
    assert [(x["row"], x["old"], x["new"], x["status"], x["view"]) for x in lines] == \
        [(row, first["label"], suggested, "relabel", "debug/suspects")]
    assert row not in at.dataframe[0].value["row"].tolist()  # a reviewed row leaves the list
    assert "1 labels reviewed" in " ".join(i.value for i in at.info)
    undo = next(b for b in at.button if b.label.startswith("Undo:"))
    undo.click().run()
    assert not at.exception, at.exception
    assert [x["status"] for x in log_lines(tmp_path)] == ["relabel", "undo"]
    assert row in at.dataframe[0].value["row"].tolist()  # back in the list


def test_a_cells_documents_relabelled_at_once_after_the_confirmation(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "user"))
    at = AppTest.from_file(str(REPO / "pages" / "debug.py"), default_timeout=TIMEOUT).run()
    at.selectbox(key="debug_true").set_value("Business").run()
    at.selectbox(key="debug_pred").set_value("Sci/Tech").run()
    go = at.button(key="debug/cell_bulk_go")
    assert go.disabled  # nothing changes before the confirmation
    at.radio(key="debug/cell_bulk_status").set_value("ambiguous").run()
    sure = at.checkbox(key="debug/cell_bulk_sure_0")
    assert "97 documents" in sure.label
    sure.check().run()
    at.button(key="debug/cell_bulk_go").click().run()
    assert not at.exception, at.exception
    lines = log_lines(tmp_path)
    assert len(lines) == 97 and {x["status"] for x in lines} == {"ambiguous"}


def test_every_view_reads_the_labels_as_corrected_when_asked(monkeypatch, tmp_path):
    from vae_core.corrections import CorrectionLog, log_path
    from vae_core.corpus_index import CorpusIndex

    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "user"))
    corpus = CorpusIndex.load(DEFAULT_MODEL / "index" / "ag_news_dev.parquet")
    wrong = corpus.df.index[corpus.df["correct"] == False][:3].tolist()  # noqa: E712
    log = CorrectionLog(log_path(DEFAULT_MODEL, "ag_news_dev"), corpus.df["text"].tolist(), corpus.df["label"].tolist(),
                        corpus.labels)
    for r in wrong[:2]:  # relabelled as the model predicts them: no longer mistakes
        log.record([r], "relabel", corpus.df["pred"].iat[r])
    log.record(wrong[2:3], "exclude")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/debug.py").run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric if m.label == "Misclassified"] == ["312 of 3,800"]
    assert "3 labels reviewed" in " ".join(i.value for i in at.info)
    at.sidebar.toggle(key="labels_corrected").set_value(True).run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric if m.label == "Misclassified"] == ["309 of 3,799"]
    at.switch_page("pages/latent_map.py").run()
    assert not at.exception, at.exception
