"""Every malformed input of tests/bad_inputs gives a clear message, in the CLI and in the app, and the
awkward but valid ones are accepted without losing anything."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import tiny_config

HERE = Path(__file__).resolve().parent / "bad_inputs"
MANIFEST = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
BAD = [e for e in MANIFEST if "error" in e]
GOOD = [e for e in MANIFEST if e.get("ok")]


def test_the_corpus_holds_at_least_50_malformed_inputs():
    assert len(BAD) >= 50 and len(GOOD) >= 8
    for e in MANIFEST:
        assert (HERE / "files" / e["file"]).is_file(), e["file"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_encoder_dir, tmp_path_factory):
    import torch

    from vae_core.encoders import load_encoder_tokenizer

    from vae_core.modeling import TextVAE

    torch.manual_seed(0)
    model = TextVAE(tiny_config(tiny_encoder_dir, labels=["Business", "Sci/Tech", "Sports", "World"]))
    model.tokenizer = load_encoder_tokenizer(tiny_encoder_dir)
    model.set_special_ids(model.tokenizer)
    return model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "tiny", dtype="float32")


def cli(args, capsys):
    from vae_core.cli import main

    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("entry", BAD, ids=[e["file"] for e in BAD])
def test_cli_says_what_is_wrong(entry, tiny_checkpoint, tiny_encoder_dir, tmp_path, capsys):
    path = HERE / "files" / entry["file"]
    if entry.get("labels_required"):
        args = ["train", "--train-file", str(path), "--output-dir", str(tmp_path / "run"), "--encoder", tiny_encoder_dir,
                "--epochs", "1", "--decoder-epochs", "0"]
    else:
        args = ["index", str(tiny_checkpoint), "--data", str(path), "--projection", "pca",
                "--output", str(tmp_path / "out.parquet")]
    code, out, err = cli(args + ["--text-column", entry["text_column"], "--label-column", entry["label_column"]], capsys)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(entry["error"], err), err
    assert entry["file"] in err or Path(entry["file"]).stem in err  # the message names the file


@pytest.mark.parametrize("entry", GOOD, ids=[e["file"] for e in GOOD])
def test_cli_accepts_awkward_valid_files(entry, tiny_checkpoint, tmp_path, capsys):
    from vae_core.corpus_index import read_index

    path = HERE / "files" / entry["file"]
    out_file = tmp_path / "out.parquet"
    code, out, err = cli(["index", str(tiny_checkpoint), "--data", str(path), "--projection", "pca", "--output",
                          str(out_file), "--text-column", entry["text_column"], "--label-column", entry["label_column"]],
                         capsys)
    assert code == 0, err
    df, _ = read_index(out_file)
    from vae_core.data import read_corpus

    original = read_corpus(path, entry["text_column"], entry["label_column"], allow_unlabelled=True)
    assert df.text.tolist() == original.texts  # nothing lost or altered
    if entry.get("notice"):
        assert re.search(entry["notice"], err), err


def test_a_file_over_the_asked_row_limit_is_refused_where_the_limit_is_passed(tiny_checkpoint, tmp_path, capsys):
    path = tmp_path / "many.csv"
    path.write_text("text,label\n" + "a short text,World\n" * 3_000, encoding="utf-8")
    code, _, err = cli(["index", str(tiny_checkpoint), "--data", str(path), "--max-rows", "2500", "--chunk-rows", "1000",
                        "--output", str(tmp_path / "out.parquet")], capsys)
    assert code == 2 and "more than 2,500 rows" in err and "many.csv" in err


# ---- the same files through the app's upload page (default model) ----
# labels are optional in the app, and its columns are picked from those the file has
APP_BAD = [e for e in BAD if not e.get("labels_required") and "has no text column" not in e["error"]
           and "has no label column" not in e["error"]]


@pytest.mark.integration
@pytest.mark.parametrize("entry", APP_BAD + GOOD, ids=[e["file"] for e in APP_BAD + GOOD])
def test_app_upload_says_what_is_wrong_and_keeps_working(entry):
    from streamlit.testing.v1 import AppTest

    from conftest import REPO

    at = AppTest.from_file(str(REPO / "pages" / "upload.py"), default_timeout=180)
    at.session_state["upload_kept"] = (entry["file"], (HERE / "files" / entry["file"]).read_bytes())
    at.session_state["classify_text"] = "typed before the upload"
    at.run()
    assert not at.exception, at.exception
    if at.error:  # the file could not even be read: said at once
        assert "error" in entry, at.error[0].value
    else:
        cols = at.selectbox(key="upload_text_col").options
        if entry["text_column"] in cols:
            at.selectbox(key="upload_text_col").set_value(entry["text_column"])
        labels = at.selectbox(key="upload_label_col").options
        at.selectbox(key="upload_label_col").set_value(entry["label_column"] if entry["label_column"] in labels
                                                       else "(no labels)")
        at.radio(key="upload_projection").set_value("pca")
        at.button(key="upload_go").click().run()
        assert not at.exception, at.exception
    messages = " ".join(m.value for m in at.error)
    if "error" in entry:
        plain = messages.replace("\\", "")  # markdown escapes
        assert at.error and re.search(entry["error"], plain), plain
    else:
        assert not at.error, messages
        assert any("is ready" in s.value for s in at.success)
        if entry.get("notice"):
            assert any(re.search(entry["notice"], i.value) for i in at.info)
    assert at.session_state["classify_text"] == "typed before the upload"  # nothing the user typed is lost
