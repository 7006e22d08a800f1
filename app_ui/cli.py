"""The app's command line: `python -m app_ui report MODEL --data FILE` writes the offline report, one self-contained
HTML file drawn with the app's own figures (the library gathers what it shows: `vae_core.report_data`). It lives
here, beside the figures, because the library never imports the app."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def cmd_report(args) -> int:
    from tqdm.auto import tqdm

    from app_ui.report import build_report
    from vae_core.files import atomic_write
    from vae_core.inference import Explorer
    from vae_core.report_data import corpus_for_report, find_training_file

    t0 = time.time()
    explorer = Explorer.load(args.model)
    corpus, name, sha = corpus_for_report(explorer, args.data, args.text_column, args.label_column, args.seed)
    train_file = (Path(args.train_file) if args.train_file else
                  find_training_file(Path(args.model), [Path(args.data).parent]))
    if args.train_file and not train_file.is_file():
        raise FileNotFoundError(f"--train-file {args.train_file} does not exist.")
    bar = tqdm(total=100, desc="report", unit="%", bar_format="{l_bar}{bar}| {elapsed} {postfix}")

    def progress(step: str, done: float) -> None:
        bar.set_postfix_str(step)
        bar.update(max(0, round(done * 100) - bar.n))

    page = build_report(explorer, corpus, name, sha, train_file, seed=args.seed, progress=progress)
    bar.update(100 - bar.n)
    bar.close()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, page)
    print(f"report on {len(corpus):,} documents of {name} written to {out} ({out.stat().st_size / 1e6:.1f} MB, "
          f"{time.time() - t0:.0f} s)" + ("" if train_file else "; no baseline: the model's training file was not "
                                          "found unchanged (give it with --train-file)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from vae_core.cli import LABELS_OPTIONAL

    p = argparse.ArgumentParser(prog="python -m app_ui", description="The app's commands.")
    sub = p.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("report", help="write one self-contained HTML file on the model and a corpus (opens offline)")
    rp.add_argument("model", help="checkpoint folder")
    rp.add_argument("--data", required=True, help="CSV, Parquet or JSONL (labelled for accuracy and calibration), or an "
                                                  "index written by `python -m vae_core index`")
    rp.add_argument("--output", default="report.html", help="HTML file (default %(default)s)")
    rp.add_argument("--train-file", help="the model's training file, for the TF-IDF + logistic regression baseline "
                                         "(default: the file its data fingerprint names, when found unchanged)")
    rp.add_argument("--text-column", default="text")
    rp.add_argument("--label-column", help=LABELS_OPTIONAL)
    rp.add_argument("--seed", type=int, default=0)
    rp.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    from vae_core.cli import run_command

    args = build_parser().parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
