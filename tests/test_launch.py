"""How a command was launched: `accelerate launch --num_processes N` without a multi-process launcher starts one
process, and `index` and `train` then say so (issue 32)."""
import os
import signal
import subprocess
import sys

import pytest
from conftest import REPO

from vae_core.launch import fewer_processes_note, processes_asked


@pytest.mark.parametrize("cmdline, asked", [
    (["/usr/bin/python3", "/venv/bin/accelerate", "launch", "--num_processes", "2", "-m", "vae_core", "index"], 2),
    (["/venv/bin/accelerate", "launch", "--cpu", "--num_processes=4", "-m", "vae_core", "train"], 4),
    (["python", "-m", "accelerate.commands.launch", "--multi_gpu", "--num-processes", "3", "x.py"], 3),
    (["/venv/bin/accelerate", "launch", "-m", "vae_core", "index"], None),  # no number asked for
    (["bash", "-c", "python -m vae_core index --num_processes 2"], None),  # not started by accelerate
    (["python", "-m", "vae_core", "index"], None),
])
def test_the_number_of_processes_asked_for_is_read_from_the_launcher(cmdline, asked):
    assert processes_asked(cmdline) == asked


def test_the_note_names_the_commands_that_start_the_processes():
    assert fewer_processes_note(2, "index", 2) is None and fewer_processes_note(1, "index", None) is None
    note = fewer_processes_note(1, "index", 2)
    assert "asked for 2 processes but started 1" in note
    assert "--multi_gpu --num_processes 2 -m vae_core index" in note and "torchrun --nproc-per-node 2" in note


@pytest.mark.slow
def test_a_cpu_launch_asked_for_two_processes_warns_that_it_started_one(tmp_path, tiny_encoder_dir):
    """`accelerate launch --cpu --num_processes 2` starts one process (accelerate's simple launcher): the command
    still does its work, and says how to get two."""
    import csv

    import torch
    from conftest import make_texts, tiny_config

    from vae_core.encoders import load_encoder_tokenizer

    from vae_core.modeling import TextVAE

    torch.manual_seed(0)
    model = TextVAE(tiny_config(tiny_encoder_dir))
    model.tokenizer = load_encoder_tokenizer(tiny_encoder_dir)
    model.set_special_ids(model.tokenizer)
    folder = model.save_pretrained(tmp_path / "tiny", dtype="float32")
    data = tmp_path / "docs.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *make_texts(4, seed=2)])
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vae_core", "index", str(folder), "--data",
           str(data), "--output", str(tmp_path / "i.parquet"), "--projection", "pca"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=240)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, stderr[-3000:]
    assert "process 1 of 1" in stderr
    assert "asked for 2 processes but started 1" in stderr and "--multi_gpu --num_processes 2" in stderr
    assert (tmp_path / "i.parquet").exists()
