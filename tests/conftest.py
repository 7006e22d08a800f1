"""Shared fixtures: a tiny random BERT saved as a local encoder folder, tiny TextVAEs and corpora."""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# what the app writes for models it may not write into (corrections of the bundled model's corpus): a folder of the
# test run's own, never the user's ~/.local/share (the app and its browser tests' servers inherit it)
os.environ.setdefault("VAE_DATA_DIR", tempfile.mkdtemp(prefix="vae-test-data-"))

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "assets" / "models" / "ag_news_vae"
AG_DEV = REPO / "assets" / "data" / "ag_news" / "dev.csv"

WORDS = {
    "sport": "match goal team season coach player win league cup score".split(),
    "money": "market stock shares profit bank price oil trade deal growth".split(),
    "tech": "software computer internet chip phone data space science web network".split(),
}


def make_texts(n_per_class: int = 20, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, words in WORDS.items():
        for _ in range(n_per_class):
            rows.append((" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))), label))
    rng.shuffle(rows)
    return rows


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> str:
    """A random 2-layer BERT (hidden 32) with the packaged MiniLM tokenizer, saved as a local folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from vae_core.encoders import resolve_encoder

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_bert")
    tok = AutoTokenizer.from_pretrained(resolve_encoder("sentence-transformers/all-MiniLM-L6-v2"))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def tiny_config(encoder_dir: str, **kw):
    from vae_core.config import VAEConfig

    base = dict(encoder_name_or_path=encoder_dir, latent_size=4, labels=["money", "sport", "tech"], max_length=32,
                decoder_layers=1, decoder_heads=2, decoder_ffn=32, decoder_memory_tokens=2, decoder_max_length=16,
                dropout=0.0)
    base.update(kw)
    return VAEConfig(**base)


@pytest.fixture()
def tiny_model(tiny_encoder_dir):
    import torch

    from vae_core.encoders import load_encoder_tokenizer

    from vae_core.modeling import TextVAE

    torch.manual_seed(0)
    model = TextVAE(tiny_config(tiny_encoder_dir))
    model.tokenizer = load_encoder_tokenizer(tiny_encoder_dir)
    model.set_special_ids(model.tokenizer)
    return model.eval()


@pytest.fixture()
def tiny_corpus(tmp_path) -> tuple[Path, Path]:
    import csv

    paths = []
    for name, seed, n in (("train.csv", 0, 20), ("dev.csv", 1, 6)):
        p = tmp_path / name
        with open(p, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(make_texts(n, seed))
        paths.append(p)
    return paths[0], paths[1]


TINY_TRAIN_ARGS = ["--latent-size", "4", "--decoder-layers", "1", "--decoder-heads", "2", "--decoder-max-length", "12",
                   "--decoder-vocab-size", "64", "--max-length", "32", "--epochs", "1", "--batch-size", "16",
                   "--num-threads", "1", "--min-decoder-steps", "0"]


@pytest.fixture(scope="session")
def own_run(tiny_encoder_dir, tmp_path_factory) -> Path:
    """A user's own model as the README makes one: `python -m vae_core train` on a CSV of their own, into a
    run folder (RUN/model with its index and examples, RUN/resume). Returns the run folder."""
    import csv

    from vae_core.cli import main

    root = tmp_path_factory.mktemp("own")
    files = []
    for name, seed, n in (("train.csv", 0, 20), ("dev.csv", 1, 6)):
        with open(root / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(make_texts(n, seed))
        files.append(root / name)
    run = root / "runs" / "tiny_news"
    assert main(["train", "--train-file", str(files[0]), "--dev-file", str(files[1]), "--output-dir", str(run),
                 "--encoder", tiny_encoder_dir, *TINY_TRAIN_ARGS]) == 0
    return run


TOPICS = "card transfer refund account payment cash pin balance top_up fee".split()
ACTIONS = "lost declined pending failed limit change request fraud".split()


def many_class_texts(n_classes: int, per_class: int, seed: int = 0) -> list[tuple[str, str]]:
    """Texts of `n_classes` made-up intents ("card_lost", "refund_pending", ...: 10 topics x 8 actions, then
    numbered), each text a few of its topic's, its action's and shared words."""
    rng = random.Random(seed)
    names = [f"{t}_{a}" for t in TOPICS for a in ACTIONS]
    names = (names + [f"intent_{i}" for i in range(len(names), n_classes)])[:n_classes] if n_classes > 2 else ["negative", "positive"]
    shared = "please help my the is not why how can i".split()
    rows = []
    for name in names:
        own = name.split("_")
        for _ in range(per_class):
            words = [rng.choice(own) for _ in range(3)] + [rng.choice(shared) for _ in range(rng.randint(2, 6))]
            rng.shuffle(words)
            rows.append((" ".join(words), name))
    rng.shuffle(rows)
    return rows


def train_tiny_run(root: Path, name: str, rows_train, rows_dev, encoder_dir: str) -> Path:
    """`python -m vae_core train` (tiny options) on these rows, into root/runs/name; returns the run folder."""
    import csv

    from vae_core.cli import main

    files = []
    for fname, rows in (("train.csv", rows_train), ("dev.csv", rows_dev)):
        with open(root / f"{name}_{fname}", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(rows)
        files.append(root / f"{name}_{fname}")
    run = root / "runs" / name
    assert main(["train", "--train-file", str(files[0]), "--dev-file", str(files[1]), "--output-dir", str(run),
                 "--encoder", encoder_dir, *TINY_TRAIN_ARGS]) == 0
    return run


@pytest.fixture(scope="session")
def many_class_run(tiny_encoder_dir, tmp_path_factory) -> Path:
    """A tiny random model of 80 classes, trained by the CLI, with its dev file indexed (issue 39)."""
    return train_tiny_run(tmp_path_factory.mktemp("many"), "intents80", many_class_texts(80, 6, 0),
                          many_class_texts(80, 3, 1), tiny_encoder_dir)


@pytest.fixture(scope="session")
def two_class_run(tiny_encoder_dir, tmp_path_factory) -> Path:
    """A tiny random model of 2 classes, trained by the CLI, with its dev file indexed."""
    return train_tiny_run(tmp_path_factory.mktemp("two"), "sentiment2", many_class_texts(2, 30, 0),
                          many_class_texts(2, 10, 1), tiny_encoder_dir)


@pytest.fixture(scope="session")
def default_model():
    from vae_core.modeling import TextVAE

    if not (DEFAULT_MODEL / "model.safetensors").exists():
        pytest.fail(f"the default model is missing from {DEFAULT_MODEL}; rebuild it with `python -m vae_core build-default`")
    return TextVAE.from_pretrained(DEFAULT_MODEL)


# `accelerate launch` on two CPU processes (gloo), as the README documents for several processes
LAUNCH_TWO = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no"]


def launch_two_processes(args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
    """Run `python -m vae_core ARGS` under `accelerate launch` on two processes, in a process group of its own that
    is killed afterwards (no worker left behind, whatever happened). Returns (returncode, stdout, stderr)."""
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, *LAUNCH_TWO, "-m", "vae_core", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, stdout, stderr


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, for a test module's browser tests."""
    from app_server import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
