"""Calibration: ECE and the reliability bins on probabilities with a known answer, temperature scaling, and how a
checkpoint carries its temperature (probabilities scaled, predictions and decoding untouched)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vae_core.calibration import calibrate_folder, fit_and_check, fit_temperature, reliability, scale


def two_class(conf: float, right: float, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """n documents all predicted class 0 with confidence `conf`, of which a share `right` truly are class 0."""
    probs = np.tile([conf, 1 - conf], (n, 1))
    y = np.zeros(n, dtype=int)
    y[: int(round((1 - right) * n))] = 1
    return probs, y


def test_ece_of_known_probabilities():
    assert reliability(*two_class(0.8, 0.8)).ece == pytest.approx(0.0, abs=1e-9)
    rel = reliability(*two_class(0.8, 1.0))  # right every time while saying 80%: underconfident by 0.2
    assert rel.ece == pytest.approx(0.2)
    assert rel.mce == pytest.approx(0.2)
    assert rel.mean_confidence == pytest.approx(0.8)
    b = next(i for i, n in enumerate(rel.count) if n)  # one bin holds every document: (0.7333, 0.8]
    assert rel.count[b] == 1000 and rel.edges[b] < 0.8 <= rel.edges[b + 1]
    assert rel.accuracy[b] == 1.0 and rel.confidence[b] == pytest.approx(0.8)
    assert sum(v is None for v in rel.accuracy) == len(rel.count) - 1


def test_ece_weights_bins_by_their_documents():
    p1, y1 = two_class(0.9, 0.6, n=300)  # overconfident by 0.3 on 300 documents
    p2, y2 = two_class(0.6, 0.6, n=700)  # calibrated on 700
    rel = reliability(np.vstack([p1, p2]), np.concatenate([y1, y2]))
    assert rel.ece == pytest.approx(0.3 * 0.3)
    assert rel.nll > 0 and 0 < rel.brier < 2


def test_reliability_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="N labels"):
        reliability(np.ones((3, 2)) / 2, [0, 1])


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20_000, 4))
    p = scale(logits, 2.5)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert fit_temperature(logits, y) == pytest.approx(2.5, rel=0.05)


def test_an_overconfident_model_gets_a_temperature_a_calibrated_one_may_not():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, size=(4000, 3))
    y = np.array([rng.choice(3, p=row) for row in scale(logits, 1.0)])
    over = fit_and_check(logits * 3, y)  # the same labels, logits 3x too sharp
    assert over["use"] and over["temperature"] == pytest.approx(3.0, rel=0.1)
    assert over["ece_held_out"] < over["ece_before"]
    right = fit_and_check(logits, y)
    assert right["temperature"] == (right["fitted_temperature"] if right["use"] else 1.0)
    assert abs(right["fitted_temperature"] - 1.0) < 0.1
    few = fit_and_check(logits[:20], y[:20])
    assert not few["use"] and "too few" in few["reason"]


def test_a_temperature_scales_probabilities_but_not_predictions_nor_the_decoder(tiny_model):
    z = torch.randn(16, tiny_model.config.latent_size, generator=torch.Generator().manual_seed(0))
    before, cond = tiny_model.class_probs(z), tiny_model.decoder_condition(z)
    tiny_model.config.temperature = 2.0
    after = tiny_model.class_probs(z)
    assert torch.equal(before.argmax(-1), after.argmax(-1))
    assert torch.allclose(after, torch.softmax(tiny_model.classify(z) / 2.0, -1))
    assert (after.max(-1).values < before.max(-1).values).all()  # softer
    assert torch.equal(cond, tiny_model.decoder_condition(z))


def test_calibrate_folder_writes_the_decision_and_the_temperature(tiny_model, tmp_path, monkeypatch):
    from vae_core import calibration
    from vae_core.config import VAEConfig
    from vae_core.modeling import TextVAE

    folder = tmp_path / "m"
    tiny_model.save_pretrained(folder, dtype="float32")
    cfg = json.loads((folder / "config.json").read_text())
    cfg.pop("temperature")  # a checkpoint from before calibration
    (folder / "config.json").write_text(json.dumps(cfg))
    assert VAEConfig.load(folder).temperature == 1.0
    texts = [f"text number {i}" for i in range(80)]
    labels = [tiny_model.labels[i % 3] for i in range(80)]
    monkeypatch.setattr(calibration, "fit_and_check", lambda logits, y, seed=0: {
        "documents": len(y), "use": True, "temperature": 1.7, "ece_before": 0.2, "ece_held_out": 0.1, "reason": "r"})
    check = calibrate_folder(folder, texts, labels)
    assert check["previous_temperature"] == 1.0
    assert TextVAE.from_pretrained(folder).config.temperature == 1.7
    assert json.loads((folder / "calibration.json").read_text())["temperature"] == 1.7


def test_calibration_of_a_real_fit_on_a_tiny_model(tiny_model, tmp_path):
    folder = tmp_path / "m"
    tiny_model.save_pretrained(folder, dtype="float32")
    texts = [f"{w} report" for w in ("market", "goal", "chip", "bank", "match", "web") * 15]
    labels = [tiny_model.labels[i % 3] for i in range(len(texts))]
    check = calibrate_folder(folder, texts, labels)
    assert check["documents"] == 90 and "ece_held_out" in check
    saved = json.loads((folder / "config.json").read_text())["temperature"]
    assert saved == (check["fitted_temperature"] if check["use"] else 1.0)


def test_evaluate_reports_calibration_and_the_unscaled_error(tiny_model):
    from vae_core.evaluate import evaluate_model, format_report

    texts = [f"{w} news today" for w in ("market", "goal", "chip") * 10]
    labels = [tiny_model.labels[i % 3] for i in range(30)]
    res = evaluate_model(tiny_model, texts, labels, generation_rows=0, progress=False)
    assert 0 <= res["ece"] <= 1 and res["temperature"] == 1.0 and "ece_unscaled" not in res
    assert sum(res["reliability"]["count"]) == 30
    tiny_model.config.temperature = 0.5
    scaled = evaluate_model(tiny_model, texts, labels, generation_rows=0, progress=False)
    assert scaled["accuracy"] == res["accuracy"]
    assert scaled["ece_unscaled"] == pytest.approx(res["ece"], abs=1e-6)
    assert "calibration" in format_report(scaled)


def test_refreshed_index_shows_the_calibrated_probabilities(tiny_model, tmp_path):
    from vae_core.corpus_index import CorpusIndex
    from vae_core.indexing import Indexer, refresh_probabilities

    texts = [f"{w} in the news" for w in ("market", "goal", "chip", "bank") * 5]
    path = Indexer(tiny_model, "pca").build_file(texts, None, tmp_path / "i.parquet")
    df = CorpusIndex.load(path).df
    tiny_model.config.temperature = 3.0
    refresh_probabilities(tiny_model, path)
    corpus = CorpusIndex.load(path)
    expected = tiny_model.class_probs(torch.as_tensor(corpus.mu)).detach().numpy()
    assert np.allclose(corpus.probs, expected, atol=1e-6)
    assert np.allclose(corpus.df["confidence"], expected.max(-1), atol=1e-6)
    assert corpus.df["pred"].tolist() == df["pred"].tolist()
    assert corpus.meta["temperature"] == 3.0


def test_the_calibrate_command_refits_evaluates_and_refreshes_the_models_indexes(own_run, tmp_path, capsys):
    """`calibrate` (finish.recalibrate): one pass over the data fits the temperature (calibration.json), the
    evaluation at it is written with the card, and the model's own indexes show probabilities at that temperature."""
    import csv
    import json
    import shutil

    from conftest import make_texts
    from vae_core.cli import main
    from vae_core.corpus_index import CorpusIndex
    from vae_core.modeling import TextVAE

    model = tmp_path / "model"
    shutil.copytree(own_run / "model", model)
    data = tmp_path / "calibration.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *make_texts(30, 7)])
    assert main(["calibrate", str(model), "--data", str(data)]) == 0
    said = capsys.readouterr().out
    check = json.loads((model / "calibration.json").read_text())
    assert check["documents"] == 90 and said.startswith("calibration on 90 dev documents")
    loaded = TextVAE.from_pretrained(model)
    assert loaded.config.temperature == check["temperature"]
    evaluation = json.loads((model / "evaluation.json").read_text())
    assert evaluation["documents"] == 90 and evaluation["temperature"] == check["temperature"]
    assert "reader_top1" not in evaluation  # the data is another file than the evaluation's before: no decoding kept
    indexes = sorted((model / "index").glob("*.parquet"))
    assert indexes and all(f"probabilities of {p} brought up to date" in said for p in indexes)
    for path in indexes:
        corpus = CorpusIndex.load(path)
        expected = loaded.class_probs(torch.as_tensor(corpus.mu)).detach().numpy()
        assert np.allclose(corpus.probs, expected, atol=1e-6)
    # again on the same file: what decoding measured before is kept (the temperature does not change it)
    (model / "evaluation.json").write_text(json.dumps({**evaluation, "reader_top1": 0.5, "train_wall_minutes": 3.0}))
    assert main(["calibrate", str(model), "--data", str(data)]) == 0
    again = json.loads((model / "evaluation.json").read_text())
    assert again["reader_top1"] == 0.5 and again["train_wall_minutes"] == 3.0 and again["documents"] == 90
