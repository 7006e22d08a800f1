"""The checkpoint phase of a training run: the run folder, the resume state (weights, optimiser, schedule, step,
RNG, the weights' average) written and read back atomically, the files every saved model carries, and the run's
log of steps.

Run folder layout (`--output-dir RUN`):
  RUN/model/          best checkpoint by dev accuracy (a complete checkpoint folder)
  RUN/resume/         the latest training state (weights, optimiser, step) for --resume
  RUN/metrics.jsonl   one line per logging step and per evaluation
Both folders are replaced atomically, so a half-written one is never visible."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from ..files import atomic_replace_dir


def prepare_run_dir(run_dir: Path, log_path: Path, resume: bool, set_aside_log: bool, main: bool) -> None:
    """The run folder: created, cleared of a killed save's half-written folders; a new run's log started afresh
    (`set_aside_log`); a resumed run's state checked."""
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        # half-written folders of a run that was killed while saving: never visible, now removed
        for stale in run_dir.glob(".*"):
            if stale.is_dir() and (".tmp-" in stale.name or ".old-" in stale.name):
                shutil.rmtree(stale, ignore_errors=True)
        if not resume and set_aside_log and log_path.exists():
            # a new run in the folder of an earlier one: its log starts empty (the earlier one's is kept beside
            # it), or the new model's training curves would mix in the old run's steps
            log_path.replace(run_dir / "metrics.previous.jsonl")
    if resume and not (run_dir / "resume" / "state.json").exists():
        raise FileNotFoundError(f"--resume: {run_dir / 'resume'} holds no training state; start without --resume.")


def flatten_optimizer(opt_state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for pid, st in opt_state["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"state.{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": opt_state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith("state."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    for key, v in meta.get("scalars", {}).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_state(run_dir: Path, model, optimizer, scheduler, counters: dict, extra_files: dict,
               tensors: dict[str, torch.Tensor]) -> None:
    """Write RUN/resume atomically: the model (float32, with `extra_files`), the optimiser, the schedule, the
    `counters` (step, epoch, best, history ...), the torch RNG and further `tensors` (the average, neighbours)."""
    from safetensors.torch import save_file

    tmp = Path(tempfile.mkdtemp(prefix=".resume.tmp-", dir=run_dir))
    try:
        model.save_pretrained(tmp / "w", dtype="float32", extra_files=extra_files)
        for p in (tmp / "w").iterdir():
            os.replace(p, tmp / p.name)
        (tmp / "w").rmdir()
        opt_tensors, opt_meta = flatten_optimizer(optimizer.state_dict())
        opt_tensors["rng.torch"] = torch.get_rng_state()
        opt_tensors.update({k: v.contiguous() for k, v in tensors.items()})
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        state = {**counters, "optimizer": opt_meta, "scheduler": scheduler.state_dict()}
        (tmp / "state.json").write_text(json.dumps(state, default=float))
        atomic_replace_dir(tmp, run_dir / "resume")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_state(resume_dir: Path, optimizer, scheduler) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read RUN/resume into `optimizer` and `scheduler` and restore the torch RNG: (the counters, the further
    tensors `save_state` was given)."""
    from safetensors.torch import load_file

    state = json.loads((resume_dir / "state.json").read_text())
    tensors = load_file(str(resume_dir / "optimizer.safetensors"))
    torch.set_rng_state(tensors.pop("rng.torch"))
    optimizer.load_state_dict(unflatten_optimizer({k: v for k, v in tensors.items() if k.startswith("state.")},
                                                  state["optimizer"]))
    scheduler.load_state_dict(state.pop("scheduler"))
    state.pop("optimizer")
    return state, {k: v for k, v in tensors.items() if not k.startswith("state.")}


def log_record(log_path: Path, record: dict, stage: str | None) -> None:
    if stage:
        record = {"stage": stage, **record}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_step_log(path: Path, stage: str | None = None) -> list[dict]:
    """The per-step records of a run's metrics.jsonl (loss parts, beta, KL, learning rate), in order; of a
    recipe's shared log, those of one `stage` (None: the records without a stage, as a single run logs them)."""
    if not path.exists():
        return []
    steps = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by an interruption
            continue
        if "step" in rec and "eval" not in rec and rec.get("stage") == stage:
            steps[rec["step"]] = rec  # a resumed run logs some steps again: the last one stands
    return [steps[k] for k in sorted(steps)]
