"""Checks on how a command was launched: `accelerate launch --num_processes N` starts N processes only with a
multi-process launcher. On a machine without GPUs, `--cpu` (or no flag) runs the command once, in a single
process; `--multi_gpu` (torchrun underneath, gloo on CPU) or `torchrun --nproc-per-node N -m vae_core ...` start N.
A run that asked for more processes than it got says so, instead of quietly doing the work on one."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

CPU_COMMAND = ("`accelerate launch --multi_gpu --num_processes {n} -m vae_core {what} ...` (on a machine without GPUs "
               "the processes talk over gloo) or `torchrun --nproc-per-node {n} -m vae_core {what} ...`")


def processes_asked(cmdline: list[str] | None = None) -> int | None:
    """How many processes the `accelerate launch` that started this one was asked for (--num_processes N), read
    from the parent process' command line; None when this process was not started by it or the number is not given."""
    if cmdline is None:
        try:
            raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
        except OSError:
            return None
        cmdline = [a for a in raw.decode(errors="replace").split("\0") if a]
    head = cmdline[:3]
    accelerate_cli = any(Path(a).name == "accelerate" or "accelerate/commands/accelerate_cli" in a
                         or a == "accelerate.commands.accelerate_cli" for a in head) and "launch" in cmdline
    if not (accelerate_cli or "accelerate.commands.launch" in head):
        return None
    for i, a in enumerate(cmdline):
        m = re.fullmatch(r"--num[_-]processes(?:=(\d+))?", a)
        if m:
            value = m.group(1) or (cmdline[i + 1] if i + 1 < len(cmdline) else "")
            return int(value) if value.isdigit() else None
    return None


def fewer_processes_note(started: int, what: str, asked: int | None) -> str | None:
    """The warning for a launch that started fewer processes than asked; None when it started them all."""
    if asked is None or asked <= started:
        return None
    return (f"warning: accelerate launch was asked for {asked} processes but started {started}: `--cpu`, or no "
            f"multi-process flag, runs the command once. To run {what} on {asked} processes, launch it with "
            + CPU_COMMAND.format(n=asked, what=what) + ".")


def warn_if_fewer_processes(started: int, what: str) -> None:
    """Print `fewer_processes_note` (to stderr) when this launch started fewer processes than it was asked for."""
    note = fewer_processes_note(started, what, processes_asked())
    if note:
        print(note, file=sys.stderr)
