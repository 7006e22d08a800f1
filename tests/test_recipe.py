"""`train` runs a recipe of stages (vae_core/recipe.py): the bundled model's by default, in one run folder, with
one log, one set of curves, a resumable state per stage and a closing evaluation by the independent reader."""
import json
from pathlib import Path

import pytest
from conftest import DEFAULT_MODEL, TINY_TRAIN_ARGS

from vae_core.cli import build_parser, main
from vae_core.config import TrainConfig
from vae_core.recipe import RECIPES, plan, run_recipe


def test_the_default_recipe_is_the_bundled_models_and_options_given_win_in_every_stage():
    base = TrainConfig(train_file="t.csv", dev_file="d.csv", output_dir="runs/x")
    stages = plan("full", base)
    assert [p.stage.name for p in stages] == ["joint", "content", "second"]
    joint, content, second = (p.config for p in stages)
    assert (joint.epochs, joint.decoder_epochs, joint.init_from) == (5.0, 0.0, None)
    assert content.init_from == str(Path("runs/x/stages/1-joint/model")) and content.changes.content_dims == 64
    assert second.init_from == str(Path("runs/x/stages/2-content/model"))
    assert (second.decoder_epochs, second.changes.word_dropout, second.content_free_bits) == (5.0, 0.3, 3.0)
    assert content.min_decoder_steps == second.min_decoder_steps == 1500
    assert content.changes.word_dropout is None  # the first decoder phase keeps the decoder's (none)
    # an option given applies to every stage; the joint stage still has no decoder phase of its own
    given = plan("full", base, {"decoder_epochs": 2.0, "word_dropout": 0.1})
    assert [p.config.decoder_epochs for p in given] == [0.0, 2.0, 2.0]
    assert [p.config.changes.word_dropout for p in given] == [0.1, 0.1, 0.1]
    # no decoder epochs: the joint stage alone; from a trained model: the decoder stages alone
    assert [p.stage.name for p in plan("full", base, {"decoder_epochs": 0.0})] == ["joint"]
    resumed = plan("full", TrainConfig(train_file="t.csv", output_dir="runs/y", init_from="m"))
    assert [(p.stage.name, p.config.init_from) for p in resumed] == [("content", "m"),
                                                                     ("second", str(Path("runs/y/stages/1-content/model")))]
    with pytest.raises(ValueError, match="nothing to train"):
        plan("full", TrainConfig(train_file="t.csv", init_from="m"), {"decoder_epochs": 0.0})
    # single: one run, exactly the options given, in the run folder itself
    (single,) = plan("single", base, {"epochs": 1.0})
    assert single.config.output_dir == "runs/x" and single.config.epochs == 1.0 and single.config.decoder_epochs == 4.0
    assert set(RECIPES) == {"full", "quick", "single"}


def test_build_default_trains_the_shipped_models_recipe():
    """`python -m vae_core build-default` is `train`'s default recipe on AG News: its last stage has the settings
    the shipped model was trained with."""
    from vae_core.default_model import default_base_config

    args = build_parser().parse_args(["build-default", "--run-dir", "runs/x"])
    stages = plan("full", default_base_config(Path(args.data_dir), args.run_dir, args.seed, args.init_from))
    rebuild = stages[-1].config.to_dict()
    # written before the model changes had a home of their own: read as a run reads it back
    shipped = TrainConfig.from_dict(json.loads((DEFAULT_MODEL / "training_args.json").read_text())).to_dict()
    # where the data and the run folders were on the machine that trained it is not part of the recipe
    for name in ("train_file", "dev_file"):
        assert Path(shipped.pop(name)).name == Path(rebuild.pop(name)).name
    for settings in (shipped, rebuild):
        settings.pop("output_dir")
        settings.pop("init_from")
    # since then a decoder phase has at least 1,500 steps (for smaller corpora): AG News' 5 epochs are 1,450
    assert rebuild.pop("min_decoder_steps") == 1500 and shipped.pop("min_decoder_steps") == 0
    assert {k: v for k, v in rebuild.items() if k in shipped} == shipped
    # settings TrainConfig has gained since that run: the rebuild leaves them at their defaults (the old behaviour)
    defaults = TrainConfig().to_dict()
    assert {k: v for k, v in rebuild.items() if k not in shipped} == {k: defaults[k] for k in rebuild if k not in shipped}


def _train(tiny_corpus, tiny_encoder_dir, run, *extra):
    train_file, dev_file = tiny_corpus
    return main(["train", "--train-file", str(train_file), "--dev-file", str(dev_file), "--output-dir", str(run),
                 "--encoder", tiny_encoder_dir, *TINY_TRAIN_ARGS, "--decoder-epochs", "1", "--content-dims", "2",
                 "--no-index", *extra])


def test_train_runs_every_stage_into_one_run_with_one_log_curves_and_a_closing_evaluation(
        tiny_corpus, tiny_encoder_dir, tmp_path, capsys):
    from vae_core.modeling import TextVAE

    run = tmp_path / "run"
    assert _train(tiny_corpus, tiny_encoder_dir, run) == 0
    out = capsys.readouterr().out
    for i, name in enumerate(("joint", "content", "second"), 1):
        assert f"stage {i}/3" in out and (run / "stages" / f"{i}-{name}" / "done.json").exists()
    # the summary: every stage's time and accuracy, the reader's figures on the dev sample
    assert "1. joint" in out and "3. second" in out and "finds the source among 18: top-1" in out
    model = TextVAE.from_pretrained(run / "model")
    assert model.config.content_latent_size == 2 and model.config.word_dropout == 0.3
    # one log: each record tagged with its stage, in order
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in records] == sorted((r["stage"] for r in records), key=["joint", "content", "second"].index)
    # one set of curves: every stage's steps one after the other, counted from the start of the run
    metrics = json.loads((run / "model" / "metrics.json").read_text())
    steps = [r["step"] for r in metrics["steps"]]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert {r["stage"] for r in metrics["steps"]} == {"joint", "content", "second"}
    assert [s["stage"] for s in metrics["stages"]] == ["joint", "content", "second"]
    assert metrics["stages"][1]["first_step"] == metrics["stages"][0]["last_step"] + 1
    assert [h["stage"] for h in metrics["history"]][-1] == "second"
    assert metrics["train_seconds"] == pytest.approx(sum(s["train_seconds"] for s in metrics["stages"]))
    # the closing evaluation: written beside the model and into its card
    ev = json.loads((run / "model" / "evaluation.json").read_text())
    assert ev["documents"] == 18 and ev["generation_rows"] == 18 and 0 <= ev["reader_top1"] <= 1
    card = (run / "model" / "README.md").read_text()
    assert "independent reader finds the source" in card and "3 stages" in card


def test_resume_continues_the_stage_it_was_in(tiny_corpus, tiny_encoder_dir, tmp_path, monkeypatch, capsys):
    """A run stopped in the middle of its second stage continues there: the first stage is not trained again,
    the second goes on from its last saved step."""
    from vae_core import training as train_module

    run = tmp_path / "run"
    real_fit = train_module.Trainer.fit

    def stopped_in_content(self, stop_after_steps=None):
        if self.stage == "content":
            real_fit(self, stop_after_steps=2)
            raise KeyboardInterrupt
        return real_fit(self, stop_after_steps)

    monkeypatch.setattr(train_module.Trainer, "fit", stopped_in_content)
    assert _train(tiny_corpus, tiny_encoder_dir, run, "--save-every", "1") == 130
    assert (run / "stages" / "1-joint" / "done.json").exists() and not (run / "stages" / "2-content" / "done.json").exists()
    stopped_at = json.loads((run / "stages" / "2-content" / "resume" / "state.json").read_text())["step"]
    assert stopped_at == 2
    joint_mtime = (run / "stages" / "1-joint" / "model" / "model.safetensors").stat().st_mtime
    monkeypatch.setattr(train_module.Trainer, "fit", real_fit)
    capsys.readouterr()
    assert _train(tiny_corpus, tiny_encoder_dir, run, "--resume") == 0
    out = capsys.readouterr().out
    assert "stage 1/3 (joint) finished earlier" in out and "(continued)" in out
    assert (run / "stages" / "1-joint" / "model" / "model.safetensors").stat().st_mtime == joint_mtime
    content = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("stage") == "second" for r in content)
    state = json.loads((run / "stages" / "2-content" / "resume" / "state.json").read_text())
    assert state["step"] == 4  # 60 rows / batch 16 = 4 steps of its one epoch: it finished the epoch it was in
    assert (run / "model" / "evaluation.json").exists()
    # a finished run resumed returns at once
    capsys.readouterr()
    assert _train(tiny_corpus, tiny_encoder_dir, run, "--resume") == 0
    assert "stage 3/3 (second) finished earlier" in capsys.readouterr().out


def test_a_quick_recipe_and_a_fresh_run_over_an_old_one(tiny_corpus, tiny_encoder_dir, tmp_path):
    run = tmp_path / "run"
    assert _train(tiny_corpus, tiny_encoder_dir, run) == 0
    assert _train(tiny_corpus, tiny_encoder_dir, run, "--recipe", "quick") == 0
    # the new run's stages only; the old run's log is kept beside the new one
    assert sorted(p.name for p in (run / "stages").iterdir()) == ["1-joint", "2-content"]
    assert (run / "metrics.previous.jsonl").exists()
    assert json.loads((run / "recipe.json").read_text())["recipe"] == "quick"


def test_resume_without_a_run_says_what_to_do(tiny_corpus, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="start without --resume"):
        run_recipe("full", TrainConfig(train_file=str(tiny_corpus[0]), output_dir=str(tmp_path / "none")), resume=True)


def test_a_small_corpus_gets_at_least_the_decoder_steps_asked_for(tiny_corpus, tiny_encoder_dir, tmp_path):
    import dataclasses

    from conftest import tiny_config

    from vae_core.training import Trainer

    cfg = TrainConfig(train_file=str(tiny_corpus[0]), output_dir=str(tmp_path / "r"), epochs=1.0, decoder_epochs=1.0,
                      batch_size=16, min_decoder_steps=10, num_threads=1)
    steps = lambda **kw: (lambda t: (t.joint_steps, t.decoder_steps))(  # noqa: E731
        Trainer(dataclasses.replace(cfg, **kw), tiny_config(tiny_encoder_dir, decoder_vocab_size=64)))
    assert steps() == (4, 10)  # 60 rows / batch 16: an epoch is 4 steps, the decoder phase gets 10
    assert steps(min_decoder_steps=2) == (4, 4)  # more epochs than the floor: the epochs
    assert steps(decoder_epochs=0.0) == (4, 0)  # no decoder phase stays none


@pytest.mark.slow
def test_the_recipe_under_accelerate_launch_on_two_processes(tiny_corpus, tiny_encoder_dir, tmp_path):
    """Both processes train every stage; the first alone writes the run's files: one recipe.json, each stage's
    done.json, RUN/model and its closing evaluation."""
    from conftest import launch_two_processes

    from vae_core.modeling import TextVAE

    train_file, dev_file = tiny_corpus
    run = tmp_path / "ddp"
    rc, stdout, stderr = launch_two_processes(
        ["train", "--train-file", str(train_file), "--dev-file", str(dev_file), "--output-dir", str(run), "--encoder",
         tiny_encoder_dir, *TINY_TRAIN_ARGS, "--decoder-epochs", "1", "--content-dims", "2", "--no-index",
         "--save-dtype", "float32"], tmp_path, timeout=400)
    assert rc == 0, stderr[-3000:]
    assert stdout.count("stage 1/3") == 1 and stdout.count("all 3 stages trained") == 1
    for name in ("1-joint", "2-content", "3-second"):
        assert (run / "stages" / name / "done.json").exists()
    assert TextVAE.from_pretrained(run / "model").config.content_latent_size == 2
    assert json.loads((run / "model" / "evaluation.json").read_text())["documents"] == 18


def test_decoder_stages_on_an_older_checkpoint_decode_as_the_run_says(tiny_corpus, tiny_encoder_dir, tmp_path):
    """`--init-from` trains the decoder again, so the model it gives decodes with this run's guidance: the default
    when none is given (a checkpoint from before guidance says 0), the given one otherwise, kept across --resume."""
    import shutil

    first = tmp_path / "first"
    assert _train(tiny_corpus, tiny_encoder_dir, first, "--recipe", "quick") == 0
    old = tmp_path / "old"
    shutil.copytree(first / "model", old)
    cfg = json.loads((old / "config.json").read_text())
    del cfg["decoder_bow_guidance"]  # as written before the field existed: loads as 0
    (old / "config.json").write_text(json.dumps(cfg))
    guidance = lambda run: json.loads((run / "model" / "config.json").read_text())["decoder_bow_guidance"]  # noqa: E731
    assert _train(tiny_corpus, tiny_encoder_dir, tmp_path / "a", "--init-from", str(old), "--recipe", "quick") == 0
    assert guidance(tmp_path / "a") == 0.5
    run = tmp_path / "b"
    assert _train(tiny_corpus, tiny_encoder_dir, run, "--init-from", str(old), "--decoder-bow-guidance", "1.25") == 0
    assert guidance(run) == 1.25
    assert json.loads((run / "recipe.json").read_text())["base"]["changes"]["decoder_bow_guidance"] == 1.25
    # a resumed run keeps the options it was started with
    shutil.rmtree(run / "stages")  # as if stopped before its first stage saved a step: trained again from the start
    assert _train(tiny_corpus, tiny_encoder_dir, run, "--resume") == 0
    assert guidance(run) == 1.25
