"""Indexing in streamed chunks on one process or several (`accelerate launch -m vae_core index`), resumable."""
import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, make_texts, tiny_config

from vae_core.cli import main
from vae_core.data import DataError, iter_corpus, read_corpus
from vae_core.corpus_index import read_index
from vae_core.interpret.projection import fit_projection, map_sample


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_encoder_dir, tmp_path_factory):
    import torch

    from vae_core.encoders import load_encoder_tokenizer

    from vae_core.modeling import TextVAE

    torch.manual_seed(0)
    model = TextVAE(tiny_config(tiny_encoder_dir))
    model.tokenizer = load_encoder_tokenizer(tiny_encoder_dir)
    model.set_special_ids(model.tokenizer)
    return model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "tiny", dtype="float32")


@pytest.fixture()
def corpus_csv(tmp_path):
    path = tmp_path / "docs.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(make_texts(10, seed=3))  # 30 rows: chunks of 4 make 8 parts, the last of 2
    return path


def index_args(model, data, out, *extra):
    return ["index", str(model), "--data", str(data), "--output", str(out), "--chunk-rows", "4", "--projection", "pca",
            "--keep-parts", *extra]


def manifest(out):
    return json.loads(out.with_name(out.name + ".manifest.json").read_text())


@pytest.mark.slow
def test_two_processes_index_exactly_what_one_does_each_its_own_share(tiny_checkpoint, corpus_csv, tmp_path):
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    assert main(index_args(tiny_checkpoint, corpus_csv, one)) == 0
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
           "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vae_core",
           *index_args(tiny_checkpoint, corpus_csv, two)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=300)
    finally:  # never leave workers behind
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, stderr[-3000:]
    a, meta_a = read_index(one)
    b, meta_b = read_index(two)
    assert (meta_a["processes"], meta_b["processes"]) == (1, 2)
    assert a["text"].tolist() == b["text"].tolist() == read_corpus(corpus_csv).texts, "the same rows in the same order"
    assert a["label"].tolist() == b["label"].tolist() and a["pred"].tolist() == b["pred"].tolist()
    for col in ("mu", "logvar", "probs"):
        np.testing.assert_allclose(np.stack(a[col]), np.stack(b[col]), atol=1e-5)
    for col in ("x", "y", "prob_std", "flip_rate", "kl"):
        np.testing.assert_allclose(a[col], b[col], atol=1e-4)
    parts = manifest(two)["parts"]
    assert [p["chunk"] for p in parts] == list(range(8)) and sum(p["rows"] for p in parts) == 30
    assert all(p["process"] == p["chunk"] % 2 for p in parts), "chunk i is encoded by process i mod 2, only"
    assert "process 2 of 2: encoded 4 chunk(s)" in stderr and "process 1 of 2: encoded 4 chunk(s)" in stderr
    assert all(p["process"] == 0 for p in manifest(one)["parts"])


def test_an_interrupted_index_resumes_from_the_parts_it_wrote(tiny_checkpoint, corpus_csv, tmp_path, capsys):
    out = tmp_path / "idx.parquet"
    assert main(index_args(tiny_checkpoint, corpus_csv, out)) == 0
    first, meta = read_index(out)
    assert meta["rows"] == 30 and meta["chunk_rows"] == 4 and isinstance(meta["regions"], list)
    parts = out.with_name(out.name + ".parts")
    # as if the run had stopped before the map: the index and part 5 missing, the others written
    out.unlink()
    (parts / "part-000005.parquet").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in parts.glob("part-*.parquet")}
    capsys.readouterr()
    assert main(index_args(tiny_checkpoint, corpus_csv, out)) == 0
    assert "encoded 1 chunk(s)" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in parts.glob("part-*.parquet") if p.name in kept} == kept
    again, _ = read_index(out)
    assert again["text"].tolist() == first["text"].tolist()
    np.testing.assert_allclose(np.stack(again["mu"]), np.stack(first["mu"]), atol=1e-6)
    # parts of another run are not mixed in
    assert main(index_args(tiny_checkpoint, corpus_csv, out, "--seed", "7")) == 2
    assert "holds the parts of another run" in capsys.readouterr().err
    # without --keep-parts the parts go once the index is written
    out2 = tmp_path / "plain.parquet"
    assert main(index_args(tiny_checkpoint, corpus_csv, out2)[:-1]) == 0
    assert out2.exists() and not out2.with_name(out2.name + ".parts").exists()


def test_a_folder_of_parquet_files_streams_in_chunks_across_files(tmp_path, monkeypatch):
    rows = make_texts(7, seed=1)  # 21 rows in two files of 12 and 9
    folder = tmp_path / "shards"
    folder.mkdir()
    pd.DataFrame(rows[:12], columns=["text", "label"]).to_parquet(folder / "a.parquet")
    pd.DataFrame(rows[12:], columns=["text", "label"]).to_parquet(folder / "b.parquet")
    chunks = list(iter_corpus(folder, chunk_rows=5))
    assert [first for first, _ in chunks] == [0, 5, 10, 15, 20]
    assert [len(c) for _, c in chunks] == [5, 5, 5, 5, 1]
    assert [t for _, c in chunks for t in c.texts] == [t for t, _ in rows]
    assert [y for _, c in chunks for y in c.labels] == [y for _, y in rows]
    # one process's share (chunks 1 and 3 of 5): the same chunks, read from their row groups alone
    import pyarrow.parquet as pq

    pd.DataFrame(rows[:12], columns=["text", "label"]).to_parquet(folder / "a.parquet", row_group_size=4)
    pd.DataFrame(rows[12:], columns=["text", "label"]).to_parquet(folder / "b.parquet", row_group_size=4)
    read, original = [], pq.ParquetFile.read_row_group

    def counting(self, i, *args, **kwargs):
        read.append(i)
        return original(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    share = list(iter_corpus(folder, chunk_rows=5, wanted=lambda i: i % 2 == 1))
    assert [(first, c.texts, c.labels) for first, c in share] == [
        (first, c.texts, c.labels) for first, c in chunks if (first // 5) % 2 == 1]
    assert len(read) == 4  # rows 5-9 lie in groups 1-2 of a.parquet, rows 15-19 in groups 0-1 of b: not all 6
    monkeypatch.undo()
    # a problem is reported with its row in the whole corpus, not in its chunk
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n" + "fine text,a\n" * 7 + ",a\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 8: the text in column 'text' is empty"):
        list(iter_corpus(bad, chunk_rows=3))
    with pytest.raises(DataError, match="without .parquet files"):
        list(iter_corpus(tmp_path, chunk_rows=3))  # its files are a CSV and a folder


def test_a_map_fitted_on_a_sample_keeps_the_samples_positions():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(90, 4)).astype(np.float32)
    xy = fit_projection(mu, "umap", seed=0, fit_sample=60)
    sample = map_sample(90, 0, 60)
    assert len(sample) == 60 and list(sample) == sorted(sample)
    alone = fit_projection(mu[sample], "umap", seed=0)
    np.testing.assert_allclose(xy[sample], alone, atol=1e-5)
    assert np.isfinite(xy).all()


def test_a_corpus_indexed_in_memory_is_the_index_the_streamed_command_writes(tiny_checkpoint, corpus_csv, tmp_path):
    """One pipeline (`indexing.Indexer`): `train`'s and build-default's index (one part in memory), the app's
    (turns of the model) and `python -m vae_core index` (parts on disk) give the same table and regions."""
    from vae_core.corpus_index import CorpusIndex
    from vae_core.indexing import Indexer, index_shared
    from vae_core.inference import Explorer
    from vae_core.modeling import TextVAE

    streamed = tmp_path / "streamed.parquet"
    assert main(["index", str(tiny_checkpoint), "--data", str(corpus_csv), "--output", str(streamed),
                 "--projection", "pca"]) == 0
    corpus = read_corpus(corpus_csv)
    model = TextVAE.from_pretrained(tiny_checkpoint)
    in_memory = Indexer(model, "pca").build_file(corpus.texts, corpus.labels, tmp_path / "memory.parquet")
    (a, meta_a), (b, meta_b) = read_index(streamed), read_index(in_memory)
    pd.testing.assert_frame_equal(a, b)
    assert meta_a["regions"] == meta_b["regions"] and meta_a["rows"] == meta_b["rows"] == 30
    app = index_shared(Explorer(model, "tiny"), corpus.texts, corpus.labels, "pca")
    on_disk = CorpusIndex.load(streamed)
    pd.testing.assert_frame_equal(app.df, on_disk.df)
    for k in ("mu", "logvar", "probs"):
        np.testing.assert_array_equal(app.arrays[k], on_disk.arrays[k])
    assert app.meta["regions"] == meta_a["regions"]


def test_placing_on_another_map_fits_no_map_and_names_no_region(tiny_checkpoint, corpus_csv):
    from vae_core.indexing import Indexer
    from vae_core.modeling import TextVAE

    corpus = read_corpus(corpus_csv)
    indexer = Indexer(TextVAE.from_pretrained(tiny_checkpoint), "pca")
    placed = indexer.build(corpus.texts[:5], None, place=lambda mu: np.tile([[1.5, -2.0]], (len(mu), 1)))
    assert placed.xy.tolist() == [[1.5, -2.0]] * 5 and "regions" not in placed.meta
    assert placed.df["correct"].isna().all() and placed.df["label"].isna().all()
