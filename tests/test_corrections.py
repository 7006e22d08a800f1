"""vae_core/corrections.py: the append-only log of label corrections, its safety and its export (issue 41)."""
from __future__ import annotations

import json
import multiprocessing as mp

import pandas as pd
import pytest

from conftest import DEFAULT_MODEL
from vae_core import corrections as cx

CLASSES = ["money", "sport", "tech"]


def make_log(tmp_path, n=6):
    texts = [f"text number {i}" for i in range(n)]
    labels = [CLASSES[i % 3] for i in range(n)]
    return cx.CorrectionLog(tmp_path / "c" / f"dev{cx.SUFFIX}", texts, labels, CLASSES)


def test_round_trip_undo_and_corrected_labels(tmp_path):
    log = make_log(tmp_path)
    a = log.record([1], "relabel", "tech", view="debug/suspects")
    log.record([2], "exclude", view="map")
    log.record([3], "ambiguous")
    log.record([4], "keep")
    d = log.decisions()
    assert {r: x.status for r, x in d.items()} == {1: "relabel", 2: "exclude", 3: "ambiguous", 4: "keep"}
    assert log.corrected_labels() == ["money", "tech", None, "money", "sport", "tech"]
    assert log.undo(a) == 1 and 1 not in log.decisions()
    assert log.undo(a) == 0  # taken back once
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [x["status"] for x in lines] == ["relabel", "exclude", "ambiguous", "keep", "undo"]
    assert set(lines[0]) == {"v", "id", "row", "text_sha256", "old", "new", "status", "time", "view"}
    assert lines[0]["old"] == "sport" and lines[0]["new"] == "tech" and lines[0]["view"] == "debug/suspects"
    # a later decision on the same row stands; a new log object (a restart) reads the same
    log.record([1], "relabel", "money")
    assert make_log(tmp_path).decisions()[1].new == "money"


def test_a_label_outside_the_models_classes_and_a_row_outside_the_corpus_are_refused(tmp_path):
    log = make_log(tmp_path)
    with pytest.raises(cx.CorrectionError, match="not one of the model's classes"):
        log.record([0], "relabel", "weather")
    with pytest.raises(cx.CorrectionError, match="not in this corpus"):
        log.record([99], "keep")
    with pytest.raises(cx.CorrectionError, match="not a decision"):
        log.record([0], "delete")
    assert not log.path.exists()


def _writer(path, start, n):
    texts = [f"text number {i}" for i in range(400)]
    log = cx.CorrectionLog(path, texts, ["money"] * 400, CLASSES)
    for r in range(start, start + n):
        log.record([r], "relabel", "sport", view=f"writer {start}")


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / f"dev{cx.SUFFIX}"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, start, 150)) for start in (0, 200)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    log = cx.CorrectionLog(path, [f"text number {i}" for i in range(400)], ["money"] * 400, CLASSES)
    assert sorted(log.decisions()) == list(range(150)) + list(range(200, 350))
    assert len(path.read_text().splitlines()) == 300


def test_a_log_that_no_longer_matches_its_corpus_is_refused(tmp_path):
    log = make_log(tmp_path)
    log.record([2], "relabel", "sport")
    changed = cx.CorrectionLog(log.path, ["other"] + log.texts[1:2] + ["changed text"] + log.texts[3:], log.labels,
                               CLASSES)
    with pytest.raises(cx.CorrectionError, match="does not match this corpus"):
        changed.decisions()
    with pytest.raises(cx.CorrectionError, match="does not match"):
        changed.record([0], "keep")
    shorter = cx.CorrectionLog(log.path, log.texts[:2], log.labels[:2], CLASSES)
    with pytest.raises(cx.CorrectionError, match="does not match"):
        shorter.decisions()


@pytest.mark.parametrize("name", ["../dev", "/etc/passwd", "a/b", ".hidden", "..", "dev\x00", " dev", "x" * 200])
def test_names_from_a_link_never_become_paths(name, tmp_path):
    with pytest.raises(cx.CorrectionError):
        cx.log_path(tmp_path, name)


def test_the_bundled_models_log_lives_in_the_users_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "user"))
    path = cx.log_path(DEFAULT_MODEL, "ag_news_dev")
    assert (tmp_path / "user") in path.parents and cx.REPO not in path.parents
    own = tmp_path / "models" / "mine"
    own.mkdir(parents=True)
    assert cx.log_path(own, "dev") == own / "corrections" / f"dev{cx.SUFFIX}"


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_export_keeps_the_columns_replaces_the_label_and_leaves_out_excluded_rows(tmp_path, suffix):
    log = make_log(tmp_path)
    data = pd.DataFrame({"id": range(6), "text": log.texts, "label": log.labels, "source": ["x"] * 6})
    src = tmp_path / f"dev.{suffix}"
    {"csv": lambda: data.to_csv(src, index=False), "parquet": lambda: data.to_parquet(src, index=False),
     "jsonl": lambda: data.to_json(src, orient="records", lines=True)}[suffix]()
    log.record([0], "relabel", "tech")
    log.record([1], "exclude")
    log.record([2], "ambiguous")
    out = cx.write_export(cx.export_frame(src, log), tmp_path / f"fixed.{suffix}")
    from vae_core.data import read_frame

    got = read_frame(out)
    assert list(got.columns) == ["id", "text", "label", "label_original", "review", "source"]
    assert [str(v) for v in got["id"]] == ["0", "2", "3", "4", "5"]
    assert list(got["label"]) == ["tech", "tech", "money", "sport", "tech"]
    assert list(got["label_original"]) == ["money", "tech", "money", "sport", "tech"]
    assert [v if v == v else "" for v in got["review"]] == ["relabel", "ambiguous", "", "", ""]
    assert read_frame(src).equals(data) or len(read_frame(src)) == 6  # the source is never modified


def test_export_refuses_a_file_that_is_not_the_corpus(tmp_path):
    log = make_log(tmp_path)
    log.record([3], "relabel", "tech")
    other = tmp_path / "other.csv"
    pd.DataFrame({"text": ["x"] * 6, "label": log.labels}).to_csv(other, index=False)
    with pytest.raises(cx.CorrectionError, match="not the text that was corrected"):
        cx.export_frame(other, log)
    pd.DataFrame({"text": ["x"] * 5, "label": log.labels[:5]}).to_csv(other, index=False)
    with pytest.raises(cx.CorrectionError, match="5 rows"):
        cx.export_frame(other, log)


def test_accuracy_both_ways():
    got = cx.accuracy_both_ways(["a", "b", "b"], ["a", "a", "b"], ["a", "b", None])
    assert got == {"given": 2 / 3, "given_rows": 3, "corrected": 1.0, "corrected_rows": 2}
