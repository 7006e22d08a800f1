"""Finding finished models (never a run's resume state) and the example texts a checkpoint carries."""
import json
import os
import time

from vae_core.catalog import find_models, is_finished_model, pick_examples, read_examples


def _fake_model(folder, labels=("a", "b"), accuracy=None, state=False):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x")
    (folder / "labels.json").write_text(json.dumps(list(labels)))
    if accuracy is not None:
        (folder / "metrics.json").write_text(json.dumps({"best_dev_accuracy": accuracy}))
    if state:
        (folder / "state.json").write_text("{}")
    return folder


def test_a_run_folder_lists_its_model_by_the_runs_name_and_never_its_resume_state(tmp_path):
    run = tmp_path / "dbpedia_run"
    _fake_model(run / "model", labels=("Album", "Animal"), accuracy=0.987)
    _fake_model(run / "resume", state=True)
    _fake_model(tmp_path / ".model.tmp-123")  # a half-written folder
    found = find_models(run)
    assert [(e.name, e.folder.name) for e in found] == [("dbpedia_run", "model")]
    assert found[0].labels == ("Album", "Animal") and found[0].dev_accuracy == 0.987
    assert "2 classes (Album, Animal) · dev accuracy 0.987" == found[0].summary()
    assert not is_finished_model(run / "resume")


def test_a_folder_of_runs_and_models_newest_first_with_clashing_names_told_apart(tmp_path):
    old = _fake_model(tmp_path / "first" / "model")
    new = _fake_model(tmp_path / "second" / "model")
    plain = _fake_model(tmp_path / "plain")
    _fake_model(tmp_path / "second" / "resume", state=True)
    clash = _fake_model(tmp_path / "group" / "first")  # a model folder named like the run "first"
    now = time.time()
    for i, folder in enumerate((old, plain, clash, new)):
        os.utime(folder / "model.safetensors", (now + i, now + i))
    names = [e.name for e in find_models(tmp_path)]
    assert names == ["second", "group/first", "plain", "first/model"]
    assert find_models(tmp_path / "missing") == []


def test_examples_are_drawn_per_class_from_readable_texts_and_read_back_for_known_classes(tmp_path):
    texts = ["short", "x" * 400] + [f"a readable example text number {i} about markets, shares and quarterly profits" for i in range(10)]
    labels = ["tiny", "huge"] + ["Business"] * 10
    ex = pick_examples(texts, labels, per_class=3, seed=0)
    assert sorted(ex) == ["Business", "huge", "tiny"]
    assert len(ex["Business"]) == 3 and all(60 <= len(t) <= 300 for t in ex["Business"])
    assert ex["tiny"] == ["short"] and len(ex["huge"][0]) <= 302  # the shortest there is, cut at 300
    assert pick_examples(texts, labels, per_class=3, seed=0) == ex  # seeded
    (tmp_path / "examples.json").write_text(json.dumps({**ex, "Gone": ["a class the model lacks"], "Bad": 3}))
    back = read_examples(tmp_path, ["huge", "Business", "Sports"])
    assert list(back) == ["huge", "Business"]  # the model's order, only its classes
    assert read_examples(tmp_path / "nowhere", ["a"]) == {}


def test_the_model_card_names_every_step_a_model_was_built_in(tmp_path):
    from vae_core.card import render_card

    (tmp_path / "config.json").write_text(json.dumps({"latent_size": 96, "content_latent_size": 64, "labels": ["a"],
                                                      "prototype_tokens": 48}))
    joint = {"model": "runs/shipped_joint", "history": [{"phase": "joint", "seconds": 1464.0},
                                                       {"phase": "decoder", "seconds": 1900.0}]}
    content = {"model": "runs/ag_news_vae/model", "train_seconds": 590.0, "init_from": joint}
    (tmp_path / "metrics.json").write_text(json.dumps({"train_seconds": 780.0, "init_from": content}))
    card = render_card(tmp_path)
    assert ("Built in 3 steps, each run starting from the model of the one before (`--init-from`): the joint phase "
            "of `shipped_joint` (24.4 min of optimisation steps), then the decoder phase of `ag_news_vae` (9.8 min "
            "of optimisation steps), then this run's decoder phase") in card
    assert "first 48 tokens of the training document nearest to z" in card


def test_the_model_card_opens_with_hub_metadata_holding_the_measured_figures(tmp_path):
    import yaml

    from vae_core.card import AG_NEWS_METADATA, render_card

    (tmp_path / "config.json").write_text(json.dumps({"latent_size": 4, "labels": ["a", "b"],
                                                      "encoder_name_or_path": "sentence-transformers/all-MiniLM-L6-v2"}))
    card = render_card(tmp_path, {"accuracy": 0.91234, "macro_f1": 0.9, "reader_top1": 0.7, "file": "x/dev.csv"},
                       metadata=AG_NEWS_METADATA, name="m")
    assert card.startswith("---\n")
    head = yaml.safe_load(card.split("---\n")[1])
    assert head["library_name"] == "vae-core" and head["pipeline_tag"] == "text-classification"
    assert head["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and head["license"] == "other"
    assert head["datasets"] == ["fancyzhx/ag_news"]
    metrics = {m["name"]: m["value"] for m in head["model-index"][0]["results"][0]["metrics"]}
    assert metrics["Accuracy"] == 0.9123 and metrics["Macro F1"] == 0.9 and len(metrics) == 3
    # a model of the user's own, on an encoder in a local folder: no licence or dataset is claimed for it, and
    # the folder is not named as a base model
    (tmp_path / "config.json").write_text(json.dumps({"latent_size": 4, "labels": ["a"], "encoder_name_or_path": "/models/enc"}))
    head = yaml.safe_load(render_card(tmp_path, None).split("---\n")[1])
    assert "license" not in head and "datasets" not in head and "base_model" not in head and "model-index" not in head
