import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO, launch_two_processes, tiny_config
from vae_core.config import TrainConfig
from vae_core.modeling import TextVAE
from vae_core.training import Trainer


def _cfg(tiny_corpus, out, **kw):
    train_file, dev_file = tiny_corpus
    base = dict(train_file=str(train_file), dev_file=str(dev_file), output_dir=str(out), epochs=2, decoder_epochs=1, batch_size=8,
                lr=1e-3, head_lr=1e-3, save_every=2, seed=3, save_dtype="float32", num_threads=1)
    base.update(kw)
    return TrainConfig().with_options(**base)


def test_training_writes_a_complete_checkpoint(tiny_corpus, tiny_encoder_dir, tmp_path):
    folder = Trainer(_cfg(tiny_corpus, tmp_path / "run"), tiny_config(tiny_encoder_dir, decoder_vocab_size=64)).fit()
    for name in ("config.json", "model.safetensors", "labels.json", "tokenizer.json", "metrics.json",
                 "training_args.json", "data_fingerprint.json"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    # two joint epochs, then one of the decoder alone, each evaluated once
    assert [h["phase"] for h in metrics["history"]] == ["joint", "joint", "decoder"]
    assert all("accuracy" in h["dev"] and "recon_per_token" in h["dev"] for h in metrics["history"])
    assert metrics["best_dev_accuracy"] == max(h["dev"]["accuracy"] for h in metrics["history"])
    curve = metrics["steps"]  # training curves for the app: every 20th step and the last
    assert [r["step"] for r in curve] == [20, 24] and all({"loss", "ce", "kl", "beta"} <= set(r) for r in curve)
    fp = json.loads((folder / "data_fingerprint.json").read_text())
    assert fp["train"]["rows"] == 60 and len(fp["train"]["sha256"]) == 64
    model = TextVAE.from_pretrained(folder)
    # every token of the tiny corpus (30 words) plus [SEP] and [UNK] fits in the 64 asked for
    assert model.decoder.vocab_ids.numel() == model.config.decoder_vocab_size == 32
    assert model.labels == ["money", "sport", "tech"]
    log = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("eval" in r for r in log) and any("ce" in r for r in log)
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]  # no half-written folders


@pytest.mark.parametrize("killed_after", [5, 21])  # in the joint phase (16 steps), and in the decoder phase
def test_resume_continues_from_the_saved_step(tiny_corpus, tiny_encoder_dir, tmp_path, killed_after):
    mc = lambda: tiny_config(tiny_encoder_dir, decoder_vocab_size=64)  # noqa: E731
    full = Trainer(_cfg(tiny_corpus, tmp_path / "full"), mc())
    full.fit()
    interrupted = Trainer(_cfg(tiny_corpus, tmp_path / "cut"), mc())
    interrupted.fit(stop_after_steps=killed_after)  # "killed" then: the last saved state is one step earlier
    state = json.loads((tmp_path / "cut" / "resume" / "state.json").read_text())
    assert state["step"] == killed_after - 1
    resumed = Trainer(_cfg(tiny_corpus, tmp_path / "cut"), resume=True)
    assert resumed.step == killed_after - 1 and resumed.batch_in_epoch == (killed_after - 1) % 8
    resumed.fit()
    assert resumed.step == full.step == full.total_steps
    a = load_file(str(tmp_path / "full" / "resume" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "resume" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:  # resuming gives the same weights as never stopping
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    a = load_file(str(tmp_path / "full" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    for k in a:  # and the same averaged weights in the checkpoint
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_resume_without_state_says_so(tiny_corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no training state"):
        Trainer(_cfg(tiny_corpus, tmp_path / "none"), resume=True)


def test_semi_supervised_rows_train(tiny_corpus, tiny_encoder_dir, tmp_path):
    folder = Trainer(_cfg(tiny_corpus, tmp_path / "semi", labels_per_class=2, epochs=1),
                     tiny_config(tiny_encoder_dir, decoder_vocab_size=64)).fit()
    fp = json.loads((folder / "data_fingerprint.json").read_text())
    assert fp["labelled_rows_used"] == 6 and fp["labels_per_class"] == 2


def test_a_new_run_in_an_old_runs_folder_starts_a_new_log(tiny_corpus, tiny_encoder_dir, tmp_path):
    out = tmp_path / "run"
    Trainer(_cfg(tiny_corpus, out, epochs=2, decoder_epochs=0, batch_size=4), tiny_config(tiny_encoder_dir)).fit()
    first = (out / "metrics.jsonl").read_text()
    folder = Trainer(_cfg(tiny_corpus, out, epochs=1, decoder_epochs=0, batch_size=8), tiny_config(tiny_encoder_dir)).fit()
    assert (out / "metrics.previous.jsonl").read_text() == first
    steps = [s["step"] for s in json.loads((folder / "metrics.json").read_text())["steps"]]
    last = json.loads((out / "resume" / "state.json").read_text())["step"]
    assert steps and max(steps) == last  # only the new run's steps (the first ran 5x as many)


def test_the_information_term_trains_on_unlabelled_rows_unless_turned_off(tiny_corpus, tiny_encoder_dir, tmp_path):
    def logged_info(out, **kw):
        Trainer(_cfg(tiny_corpus, out, labels_per_class=2, epochs=2, decoder_epochs=0, **kw),
                tiny_config(tiny_encoder_dir, decoder_vocab_size=64)).fit()
        steps = json.loads((out / "model" / "metrics.json").read_text())["steps"]
        return [s["info"] for s in steps]

    assert all(v == 0.0 for v in logged_info(tmp_path / "off", unlabelled_info_weight=0.0))
    on = logged_info(tmp_path / "on")  # on by default for unlabelled rows
    # logged whatever the ramp: the term of the classes' entropies over the unlabelled rows, in [-log C, log C]
    assert any(v != 0.0 for v in on) and all(abs(v) <= 1.0987 for v in on)


@pytest.mark.slow
def test_two_process_accelerate_launch_on_cpu(tiny_corpus, tiny_encoder_dir, tmp_path):
    train_file, dev_file = tiny_corpus
    rc, stdout, stderr = launch_two_processes(
        ["train", "--recipe", "single", "--train-file", str(train_file), "--dev-file", str(dev_file), "--output-dir",
         str(tmp_path / "ddp"), "--encoder", tiny_encoder_dir, "--latent-size", "4", "--decoder-layers", "1",
         "--decoder-heads", "2", "--decoder-max-length", "16", "--decoder-vocab-size", "64", "--max-length", "32",
         "--epochs", "1", "--decoder-epochs", "1", "--batch-size", "8", "--num-threads", "1", "--save-dtype",
         "float32"], tmp_path, timeout=300)
    assert rc == 0, stderr[-3000:]
    assert "model saved to" in stdout
    model = TextVAE.from_pretrained(tmp_path / "ddp" / "model")
    assert model.predict_proba(["goal match team"]).shape == (1, 3)
    state = json.loads((tmp_path / "ddp" / "resume" / "state.json").read_text())
    # 60 docs / batch 8 = 8 batches, shared by 2 processes: 4 joint steps, then 4 of the decoder alone
    assert state["step"] == 8


def test_decoder_phase_trains_only_the_decoder_of_the_best_encoder(tiny_corpus, tiny_encoder_dir, tmp_path):
    mc = tiny_config(tiny_encoder_dir, decoder_vocab_size=64)
    joint = Trainer(_cfg(tiny_corpus, tmp_path / "joint", decoder_epochs=0), mc).fit()
    both = Trainer(_cfg(tiny_corpus, tmp_path / "both", decoder_epochs=2), tiny_config(tiny_encoder_dir, decoder_vocab_size=64)).fit()
    a, b = load_file(str(joint / "model.safetensors")), load_file(str(both / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        if k.startswith("decoder.") and a[k].is_floating_point():
            continue
        assert torch.equal(a[k], b[k]), f"{k} changed in the decoder phase"
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("decoder.blocks."))
    hist = json.loads((both / "metrics.json").read_text())["history"]
    joint_recon = [h["dev"]["recon_per_token"] for h in hist if h["phase"] == "joint"][-1]
    assert hist[-1]["phase"] == "decoder" and hist[-1]["dev"]["recon_per_token"] < joint_recon


def test_checkpoints_hold_the_averaged_weights(tiny_corpus, tiny_encoder_dir, tmp_path):
    # without a dev set every evaluation point saves, so the checkpoint is the last step's average
    trainer = Trainer(_cfg(tiny_corpus, tmp_path / "run", ema_decay=0.5, decoder_epochs=0, dev_file=None),
                      tiny_config(tiny_encoder_dir, decoder_vocab_size=64))
    folder = trainer.fit()
    saved = load_file(str(folder / "model.safetensors"))
    raw = dict(trainer._unwrapped().named_parameters())
    name = "classifier.weight"
    assert torch.allclose(saved[name], trainer.ema.tensors[name], atol=1e-6)
    assert (saved[name] - raw[name].detach()).abs().max() > 1e-6  # not the last step's own weights
    off = Trainer(_cfg(tiny_corpus, tmp_path / "off", ema_decay=0.0, decoder_epochs=0, dev_file=None),
                  tiny_config(tiny_encoder_dir, decoder_vocab_size=64))
    folder = off.fit()
    assert off.ema is None
    assert torch.allclose(load_file(str(folder / "model.safetensors"))[name], dict(off._unwrapped().named_parameters())[name].detach())


def test_killed_mid_epoch_then_resumed_gives_a_valid_checkpoint(tiny_corpus, tiny_encoder_dir, tmp_path):
    """A real kill (SIGKILL, no clean-up) in the middle of an epoch; --resume finishes the run."""
    import time

    train_file, dev_file = tiny_corpus
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "vae_core", "train", "--recipe", "single", "--train-file", str(train_file),
           "--dev-file", str(dev_file), "--output-dir", str(run), "--encoder", tiny_encoder_dir, "--latent-size", "4", "--decoder-layers", "1",
           "--decoder-heads", "2", "--decoder-max-length", "16", "--decoder-vocab-size", "64", "--max-length", "32",
           "--epochs", "40", "--decoder-epochs", "1", "--batch-size", "8", "--save-every", "3", "--num-threads", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        state = run / "resume" / "state.json"

        def saved_step() -> int:
            try:
                return json.loads(state.read_text())["step"]
            except (OSError, ValueError, KeyError):
                return -1  # not written yet, or being replaced

        # wait, while the run lives, until it is well into training, between two saves; a run that ends or errs
        # first fails the test at once (the 600 s bound only guards against a hang)
        deadline = time.time() + 600
        while proc.poll() is None and time.time() < deadline:
            step = saved_step()
            if step >= 20 and step % 8 != 0:
                break
            time.sleep(0.05)
        else:
            ended = f"ended (exit code {proc.returncode})" if proc.returncode is not None else "hung"
            pytest.fail(f"training {ended} before step 20")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = json.loads((run / "resume" / "state.json").read_text())["step"]
    assert 0 < killed_at < 40 * 8 + 8
    # whatever the kill interrupted, only complete folders are visible
    for folder in (run / "model", run / "resume"):
        if folder.exists():
            TextVAE.from_pretrained(folder)
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    final = json.loads((run / "resume" / "state.json").read_text())
    assert final["step"] == 40 * 8 + 8
    model = TextVAE.from_pretrained(run / "model")
    assert model.predict_proba(["goal match"]).shape == (1, 3)
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # half-written folders cleaned away


def test_the_best_epoch_is_kept_when_a_later_one_is_worse(tiny_corpus, tiny_encoder_dir, tmp_path, monkeypatch):
    """Without a decoder phase the last joint epoch must not overwrite a better one (it did, once)."""
    scripted, seen = iter([0.5, 0.9, 0.6]), []

    def fake_evaluate(self):
        seen.append(self._unwrapped().classifier.weight.detach().clone())  # the weights an evaluation judges
        acc = next(scripted)
        return {"accuracy": acc, "macro_f1": acc, "kl_per_doc": 1.0, "recon_per_token": 1.0}

    monkeypatch.setattr(Trainer, "evaluate", fake_evaluate)
    folder = Trainer(_cfg(tiny_corpus, tmp_path / "run", epochs=3, decoder_epochs=0),
                     tiny_config(tiny_encoder_dir, decoder_vocab_size=64)).fit()
    saved = load_file(str(folder / "model.safetensors"))["classifier.weight"]
    assert len(seen) == 3 and not torch.equal(seen[1], seen[2])
    assert torch.allclose(saved, seen[1], atol=1e-6)
    assert json.loads((folder / "metrics.json").read_text())["best_dev_accuracy"] == 0.9


def test_layer_decay_gives_each_encoder_layer_its_rate(tiny_encoder_dir):
    from vae_core.training.model import parameter_groups

    model = TextVAE(tiny_config(tiny_encoder_dir))
    n = model.encoder.config.num_hidden_layers
    owner = {id(p): name for name, p in model.named_parameters()}

    def rates(**kw):
        cfg = TrainConfig(lr=1e-4, head_lr=1e-3, **kw)
        return {owner[id(p)]: g["lr"] for g in parameter_groups(model, cfg) for p in g["params"]}

    flat = rates()
    assert len(flat) == sum(p.requires_grad for p in model.parameters())  # every trainable tensor, once
    assert {r for name, r in flat.items() if name.startswith("encoder.")} == {1e-4}
    assert {r for name, r in flat.items() if not name.startswith("encoder.")} == {1e-3}
    decayed = rates(layer_decay=0.5)
    assert decayed.keys() == flat.keys()
    top = f"encoder.encoder.layer.{n - 1}.attention.self.query.weight"
    assert decayed[top] == pytest.approx(1e-4)
    assert decayed["encoder.encoder.layer.0.attention.self.query.weight"] == pytest.approx(1e-4 * 0.5 ** (n - 1))
    assert decayed["encoder.embeddings.position_embeddings.weight"] == pytest.approx(1e-4 * 0.5 ** n)
    assert decayed["classifier.weight"] == 1e-3


def test_content_dims_train_with_the_decoder_and_leave_the_classifier_as_it_was(tiny_corpus, tiny_encoder_dir, tmp_path):
    mc = lambda: tiny_config(tiny_encoder_dir, decoder_vocab_size=64)  # noqa: E731
    joint = Trainer(_cfg(tiny_corpus, tmp_path / "joint", decoder_epochs=0), mc()).fit()
    wide = Trainer(_cfg(tiny_corpus, tmp_path / "wide", decoder_epochs=2, content_dims=3), mc()).fit()
    a, b = load_file(str(joint / "model.safetensors")), load_file(str(wide / "model.safetensors"))
    for k in a:  # the encoder, posterior and classifier of the best joint epoch, untouched
        if not k.startswith("decoder."):
            assert torch.equal(a[k], b[k]), f"{k} changed in the decoder phase"
    assert b["content_posterior.weight"].shape == (6, 32) and float(b["content_posterior.weight"].abs().sum()) > 0
    model = TextVAE.from_pretrained(wide)
    assert model.config.latent_size == 7 and model.config.content_latent_size == 3
    texts = ["market stock shares profit", "goal team season coach"]
    assert torch.allclose(model.predict_proba(texts), TextVAE.from_pretrained(joint).predict_proba(texts), atol=1e-6)
    # the content part carries information (its KL was free up to content_free_bits per dimension)
    post = model.encode_corpus(texts)
    assert float(post.mu[:, 4:].std()) > 0


def test_resume_in_the_decoder_phase_with_content_dims(tiny_corpus, tiny_encoder_dir, tmp_path):
    mc = lambda: tiny_config(tiny_encoder_dir, decoder_vocab_size=64)  # noqa: E731
    full = Trainer(_cfg(tiny_corpus, tmp_path / "full", content_dims=2), mc())
    full.fit()
    cut = Trainer(_cfg(tiny_corpus, tmp_path / "cut", content_dims=2), mc())
    cut.fit(stop_after_steps=21)  # 16 joint steps, then into the decoder phase
    resumed = Trainer(_cfg(tiny_corpus, tmp_path / "cut", content_dims=2), resume=True)
    resumed.fit()
    a = load_file(str(tmp_path / "full" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and "content_posterior.weight" in a
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


def test_a_decoder_phase_from_a_checkpoint_can_lengthen_the_decoder(tiny_corpus, tiny_encoder_dir, tmp_path):
    mc = tiny_config(tiny_encoder_dir, decoder_vocab_size=64)
    joint = Trainer(_cfg(tiny_corpus, tmp_path / "joint", decoder_epochs=0), mc).fit()
    longer = Trainer(_cfg(tiny_corpus, tmp_path / "longer", init_from=str(joint), decoder_epochs=1,
                          decoder_max_length=mc.decoder_max_length + 6, word_dropout=0.1)).fit()
    model = TextVAE.from_pretrained(longer)
    assert model.config.decoder_max_length == mc.decoder_max_length + 6 and model.config.word_dropout == 0.1
    a, b = load_file(str(joint / "model.safetensors")), load_file(str(longer / "model.safetensors"))
    assert b["decoder.pos.weight"].shape[0] == a["decoder.pos.weight"].shape[0] + 6
    # the training arguments record what the run changed, and a resumed run would apply the same
    args = json.loads((tmp_path / "longer" / "resume" / "training_args.json").read_text())
    assert args["changes"]["decoder_max_length"] == mc.decoder_max_length + 6


def test_prototypes_train_leave_one_out_and_resume_exactly(tiny_corpus, tiny_encoder_dir, tmp_path):
    from vae_core.training.model import leave_one_out_neighbours

    keys = torch.tensor([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0], [5.0, 5.2]])
    assert leave_one_out_neighbours(keys, chunk=3).tolist() == [1, 0, 3, 2]
    mc = lambda: tiny_config(tiny_encoder_dir, decoder_vocab_size=64)  # noqa: E731
    kw = dict(content_dims=2, prototype_tokens=5, decoder_epochs=2)
    full = Trainer(_cfg(tiny_corpus, tmp_path / "full", **kw), mc())
    full.fit()
    rows = full.bank.rows
    assert (full.bank.neighbours[rows] != rows).all(), "no document is its own prototype"
    model = TextVAE.from_pretrained(tmp_path / "full" / "model")
    assert model.config.prototype_tokens == 5 and model.prototypes.ids.shape == (len(full.bank.source), 5)
    assert model.decode_text(model.encode_corpus(["market stock shares"]).mu, candidates=2)[0] is not None
    cut = Trainer(_cfg(tiny_corpus, tmp_path / "cut", **kw), mc())
    cut.fit(stop_after_steps=21)  # 16 joint steps, then into the decoder phase
    Trainer(_cfg(tiny_corpus, tmp_path / "cut", **kw), resume=True).fit()
    a = load_file(str(tmp_path / "full" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and "prototypes.keys" in a
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k
