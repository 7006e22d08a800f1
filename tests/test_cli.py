import json
from pathlib import Path

import pytest
from conftest import tiny_config  # noqa: F401

from vae_core.cli import main


@pytest.fixture()
def trained(tiny_corpus, tiny_encoder_dir, tmp_path):
    train_file, dev_file = tiny_corpus
    rc = main(["train", "--train-file", str(train_file), "--dev-file", str(dev_file), "--output-dir", str(tmp_path / "run"),
               "--encoder", tiny_encoder_dir, "--latent-size", "4", "--decoder-layers", "1", "--decoder-heads", "2",
               "--decoder-max-length", "12", "--decoder-vocab-size", "64", "--max-length", "32", "--epochs", "1",
               "--batch-size", "16", "--num-threads", "1", "--min-decoder-steps", "0"])
    assert rc == 0
    return tmp_path / "run" / "model", dev_file


def test_train_evaluate_index(trained, capsys, tmp_path):
    model, dev = trained
    capsys.readouterr()
    # `train` left the model ready to explore: its dev file indexed, examples of its own classes
    from vae_core.catalog import read_examples
    from vae_core.corpus_index import read_index

    df, meta = read_index(model / "index" / "dev.parquet")
    assert len(df) == 18 and meta["source"] == "dev.csv"
    assert list(read_examples(model, ["money", "sport", "tech"])) == ["money", "sport", "tech"]
    assert main(["evaluate", str(model), "--data", str(dev), "--json", "--generation-rows", "4"]) == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "macro_f1", "per_class", "confusion_matrix", "neg_elbo_per_doc", "recon_perplexity",
                "kl_per_doc", "kl_per_dim", "active_units", "mutual_information", "bleu4", "label_consistency"):
        assert key in res, key
    # 4 dimensions that classify, and the 64 content dimensions of the default recipe's decoder phases
    assert len(res["kl_per_dim"]) == 4 + 64 and sum(sum(r) for r in res["confusion_matrix"]) == 18
    assert main(["evaluate", str(model), "--data", str(dev), "--generation-rows", "0"]) == 0
    table = capsys.readouterr().out
    assert "accuracy" in table and "confusion matrix" in table and "active units" in table
    out = tmp_path / "idx.parquet"
    assert main(["index", str(model), "--data", str(dev), "--output", str(out), "--projection", "pca"]) == 0
    df, meta = read_index(out)
    assert len(df) == 18 and meta["projection"] == "pca" and meta["labels"] == ["money", "sport", "tech"]
    assert set(df.pred) <= {"money", "sport", "tech"} and df.confidence.between(0, 1).all()


def test_train_prints_how_to_open_the_model_and_no_index_skips_the_index(tiny_corpus, tiny_encoder_dir, tmp_path, capsys):
    from conftest import TINY_TRAIN_ARGS

    train_file, dev_file = tiny_corpus
    run = tmp_path / "quick"
    assert main(["train", "--train-file", str(train_file), "--output-dir", str(run), "--encoder", tiny_encoder_dir,
                 *TINY_TRAIN_ARGS, "--decoder-epochs", "0", "--no-index"]) == 0
    out = capsys.readouterr().out
    assert f"streamlit run app.py -- --models-dir {run}" in out and "indexing" not in out
    assert not (run / "model" / "index").exists() and (run / "model" / "examples.json").exists()


def test_errors_are_messages_not_tracebacks(tmp_path, capsys, tiny_corpus):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,a\n,b\n")
    rc = main(["train", "--train-file", str(bad), "--output-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.csv, row 2: the text in column 'text' is empty" in err and "Traceback" not in err
    rc = main(["evaluate", str(tmp_path / "nowhere"), "--data", str(tiny_corpus[1])])
    assert rc == 2 and "is not a folder" in capsys.readouterr().err


def _absolute_paths(folder: Path) -> set[str]:
    """Every string in the folder's JSON files (and the model card) that is an absolute path."""
    import re

    found: set[str] = set()

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and (v.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", v)):
            found.add(v)

    for f in folder.rglob("*.json"):
        walk(json.loads(f.read_text(encoding="utf-8")))
    for f in folder.rglob("README.md"):
        found |= set(re.findall(r"(?<![\w.])/(?:home|tmp|work|root|Users|var)/[^\s`)'\"]+", f.read_text(encoding="utf-8")))
    return found


def test_a_saved_checkpoint_holds_no_absolute_path_but_the_encoder_it_was_told(own_run, tiny_encoder_dir):
    # the run was trained on files in a temporary folder, from another working folder: the checkpoint records
    # their names (data_fingerprint.json identifies the data), never where this machine keeps them
    model = own_run / "model"
    assert _absolute_paths(model) <= {tiny_encoder_dir}
    args = json.loads((model / "training_args.json").read_text())
    assert args["train_file"] == "train.csv" and args["dev_file"] == "dev.csv"


def test_the_shipped_model_holds_no_absolute_path():
    from conftest import DEFAULT_MODEL

    assert _absolute_paths(DEFAULT_MODEL) == set()
    cfg = json.loads((DEFAULT_MODEL / "config.json").read_text())
    assert "_name_or_path" not in cfg["encoder_config"] and cfg["encoder_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_portable_path(tmp_path, monkeypatch):
    from vae_core.config import portable_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert portable_path(tmp_path / "data" / "train.csv") == "data/train.csv"  # inside the working folder
    assert portable_path("data/train.csv") == "data/train.csv"  # relative paths stay as given
    assert portable_path("/somewhere/else/dev.csv") == "dev.csv"  # outside: the name alone
    assert portable_path(None) is None


@pytest.mark.slow
def test_the_installed_package_works_from_any_folder(tmp_path):
    """`pip install .` puts vae_core where no checkout is around it: the CLI evaluates a model from another
    folder, and build-default, which needs the repository's data, says what to pass instead of failing."""
    import subprocess
    import sys

    from conftest import AG_DEV, DEFAULT_MODEL, REPO

    import shutil

    target, elsewhere, src = tmp_path / "site", tmp_path / "elsewhere", tmp_path / "src"
    elsewhere.mkdir()
    # the package's sources as a source distribution holds them (the build leaves the checkout untouched)
    shutil.copytree(REPO / "vae_core", src / "vae_core", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(src)], check=True, capture_output=True)
    env = {**__import__("os").environ, "PYTHONPATH": str(target)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "vae_core", *args], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=600)

    where = subprocess.run([sys.executable, "-c", "import vae_core; print(vae_core.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True)
    assert where.stdout.startswith(str(target))  # the installed copy, not the checkout
    res = cli("evaluate", str(DEFAULT_MODEL), "--data", str(AG_DEV), "--limit", "20", "--generation-rows", "0", "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout)["documents"] == 20
    res = cli("build-default", "--evaluate-only")
    assert res.returncode == 2 and "--data-dir FOLDER holding train.csv and dev.csv" in res.stderr
    assert "Traceback" not in res.stderr
