"""Command line: `python -m vae_core train|evaluate|index|slices|suspects|calibrate|drift|corrections|regions|
build-default` (or the `vae-core` script). It parses and prints: the workflows live in the library (`recipe`,
`finish`, `indexing`, `drift`, `corrections`). The offline report is the app's command (`python -m app_ui report`):
it is drawn with the app's figures, which the library never imports."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# In the repository the AG News files and the default model live under assets/; an installed package
# (`pip install .`) has neither, so build-default then asks for --data-dir and writes to ./ag_news_vae.
IN_CHECKOUT = (REPO / "assets" / "data").is_dir()
DEFAULT_DATA = REPO / "assets" / "data" / "ag_news"
DEFAULT_MODEL = REPO / "assets" / "models" / "ag_news_vae" if IN_CHECKOUT else Path("ag_news_vae")
REBUILD_COMMAND = "python -m vae_core build-default"
# The shipped model is `train`'s default recipe on these files (vae_core/recipe.py; the experiments behind it:
# benchmarks/RESULTS.md).


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from .config import TrainConfig, VAEConfig

    t, m = TrainConfig(), VAEConfig()
    g = p.add_argument_group("data")
    g.add_argument("--train-file", required=True, help="CSV, Parquet or JSONL with a text and a label column")
    g.add_argument("--dev-file", help="held-out file for model selection (best accuracy is kept)")
    g.add_argument("--text-column", default=t.text_column)
    g.add_argument("--label-column", default=t.label_column)
    g.add_argument("--allow-unlabelled", action="store_true",
                   help="rows with an empty label train reconstruction + KL only (semi-supervised)")
    g.add_argument("--labels-per-class", type=int, help="keep N labels per class; the rest train as unlabelled text")
    g.add_argument("--labelled-share", type=float, default=t.labelled_share,
                   help="with unlabelled rows, repeat the labelled ones to make up about this share of an epoch (0 = off)")
    g.add_argument("--max-train-rows", type=int)
    g.add_argument("--drop-bad-rows", action="store_true",
                   help="leave out rows without a usable text or label, and say how many (default: refuse the file, "
                        "naming them)")
    g.add_argument("--output-dir", required=True, help="run folder: the model goes to OUTPUT_DIR/model")
    g = p.add_argument_group("model")
    g.add_argument("--encoder", dest="encoder_name_or_path", default=m.encoder_name_or_path,
                   help="transformers encoder: hub name (online) or local folder; the default is the packaged MiniLM")
    g.add_argument("--latent-size", type=int, default=m.latent_size)
    g.add_argument("--max-length", type=int, default=m.max_length)
    g.add_argument("--decoder-layers", type=int, default=m.decoder_layers)
    g.add_argument("--decoder-heads", type=int, default=m.decoder_heads)
    g.add_argument("--decoder-max-length", type=int,
                   help=f"target tokens the decoder rebuilds (default {m.decoder_max_length}; with --init-from: "
                        "the checkpoint's, longer adds positions)")
    g.add_argument("--decoder-vocab-size", type=int, default=m.decoder_vocab_size,
                   help="0 = the 8192 most frequent training tokens")
    g.add_argument("--word-dropout", type=float,
                   help=f"share of the decoder's input tokens masked in training (default {m.word_dropout}; with "
                        "--init-from: the checkpoint's)")
    g.add_argument("--decoder-bow-guidance", type=float,
                   help=f"decoding: weight of the bag-of-words head's word probabilities at z on every step "
                        f"(default {m.decoder_bow_guidance}; 0 = off)")
    g.add_argument("--decoder-guided-training", action=argparse.BooleanOptionalAction, default=None,
                   help="train the decoder with the bag-of-words guidance it decodes with (default "
                        f"{'on' if m.decoder_guided_training else 'off'}; with --init-from too: the decoder is trained again)")
    g.add_argument("--decoder-dropout", type=float,
                   help=f"dropout inside the decoder (default {m.dropout}; with --init-from: the checkpoint's)")
    g = p.add_argument_group("recipe")
    from .recipe import DEFAULT_RECIPE, RECIPES

    g.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE,
                   help="the stages of the run: " + "; ".join(f"{r.name}: {r.description}" for r in RECIPES.values())
                        + " (default %(default)s). Options given apply to every stage.")
    g.add_argument("--epochs", type=float, help="joint epochs (default: the recipe's; 5 for full, 2 for quick)")
    g.add_argument("--decoder-epochs", type=float,
                   help="epochs of each decoder phase (default: the recipe's; 5 for full, 2 for quick; 0 = none)")
    g.add_argument("--content-dims", type=int,
                   help="latent dimensions added for the decoder phase, trained with the decoder on the frozen "
                        "encoder; the classifier does not read them (default: the recipe's, 64; 0 = none)")
    g.add_argument("--content-free-bits", type=float, help="free bits of each content dimension (default: the recipe's, 3)")
    g = p.add_argument_group("optimisation")
    for name in ("bow_weight", "ema_decay", "token_dropout", "lr", "layer_decay", "head_lr",
                 "weight_decay", "warmup_ratio", "class_weight", "recon_weight", "unlabelled_info_weight", "beta_max",
                 "anneal_ratio", "free_bits", "grad_clip"):
        g.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(t, name))
    g.add_argument("--prototype-tokens", type=int,
                   help="from the decoder phase on, the decoder also reads the first N tokens of the training "
                        "document nearest to z and learns to edit it (0 = off)")
    g.add_argument("--init-from", help="a trained checkpoint folder: keep its encoder, posterior, classifier, labels and "
                                       "decoder (its length, dropout and word dropout unless given) and run the decoder "
                                       "phase alone, decoding with this run's guidance (with --content-dims: widen its "
                                       "latent)")
    g.add_argument("--min-decoder-steps", type=int,
                   help="at least this many steps in each decoder phase, for small corpora (default: the recipe's; "
                        "1500 for full, 600 for quick, 0 = the epochs alone)")
    for name in ("batch_size", "anneal_cycles", "seed", "eval_every", "save_every", "eval_rows", "num_threads"):
        g.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(t, name))
    g.add_argument("--unfreeze-embeddings", dest="freeze_embeddings", action="store_false")
    g.add_argument("--save-dtype", choices=["float16", "bfloat16", "float32"], default=t.save_dtype)
    g.add_argument("--mixed-precision", choices=["bf16", "no"], default=t.mixed_precision,
                   help="bf16 autocast where the hardware supports it (about 2x faster on such CPUs)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in OUTPUT_DIR from its last saved step (finished stages are kept)")


TRAIN_INDEX_ROWS = 5_000  # rows of the training file indexed after `train` when there is no dev file


def train_config_from_args(args):
    """(TrainConfig, VAEConfig) from `train`'s options: the run's, with the model changes given (ModelChanges) in its
    `changes`, and the new model's architecture. Options left out (None) keep the defaults."""
    from .config import ModelChanges, TrainConfig, VAEConfig

    def given(cls, skip=()):
        return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
                if f.name not in skip and getattr(args, f.name, None) is not None}

    changes = given(ModelChanges)
    tc = TrainConfig(**given(TrainConfig, skip=("changes",)), changes=ModelChanges(**changes))
    return tc, VAEConfig(**given(VAEConfig, skip=changes))


def cmd_train(args) -> int:
    from .indexing import index_file
    from .recipe import RECIPE_FIELDS, run_recipe

    tc, mc = train_config_from_args(args)
    given = {k: getattr(args, k) for k in RECIPE_FIELDS if getattr(args, k, None) is not None}
    t0 = time.time()
    # a model ready to explore: the closing evaluation indexes the dev file from its pass (--no-index skips it)
    folder = run_recipe(args.recipe, tc, mc, given, resume=args.resume, index=not args.no_index)
    print(f"model saved to {folder} ({(time.time() - t0) / 60:.1f} min)")
    if not args.no_index and not tc.dev_file:
        print("indexing a sample of the training file for the app's map (--no-index skips this)")
        index_file(folder, tc.train_file, tc.text_column, tc.label_column, sample=TRAIN_INDEX_ROWS, seed=tc.seed)
    print(f"open it in the app:  streamlit run app.py -- --models-dir {folder.parent}")
    return 0


def _load(model: str):
    from .modeling import TextVAE

    return TextVAE.from_pretrained(model)


def cmd_evaluate(args) -> int:
    from .card import write_card
    from .data import optional_label_column
    from .evaluate import evaluate_file, format_report

    model = _load(args.model)
    label_column, note = optional_label_column(args.data, args.label_column)
    if note:
        print(note, file=sys.stderr)
    res = evaluate_file(model, args.data, args.text_column, label_column, limit=args.limit,
                        generation_rows=args.generation_rows, progress=not args.json, batch_size=args.batch_size)
    if args.output:
        Path(args.output).write_text(json.dumps(res, indent=2, default=float) + "\n")
    if args.write_card:
        write_card(args.model, res)
    print(json.dumps(res, indent=2, default=float) if args.json else format_report(res))
    return 0


def cmd_calibrate(args) -> int:
    """Fit the model's temperature on labelled dev data when it lowers ECE (and NLL) on held-out halves, evaluate and
    document it at that temperature, and bring the probabilities of the model's own indexes up to date."""
    from .finish import recalibrate

    recalibrate(args.model, args.data, args.text_column, args.label_column or "label", seed=args.seed)
    return 0


def format_drift(d, reference, new, labels: list[str], shown: int = 8) -> str:
    """The drift report for the console: the whole corpus, the class mix, and the regions, most drifted first."""
    lines = [f"drift of {d.new_documents:,} new documents against {d.reference_documents:,} reference documents: "
             f"{d.verdict}", f"drift score (AUC of telling them apart in latent space; 0.5 = none): {d.auc:.3f} "
             f"(p = {d.p_value:.2g})", "", "predicted class     reference   new     change"]
    for c, (a, b) in d.class_mix.items():
        lines.append(f"{c[:18]:<18}  {a:>8.1%}  {b:>6.1%}  {b - a:>+7.1%}")
    lines.append("")
    for r in d.flagged[:shown]:
        where = "more" if r.direction == "over" else "fewer"
        lines.append(f"region {r.id}{' (FLAGGED)' if r.flagged else ''}: {where} new documents than the reference; "
                     f"{r.new_count:,} new ({r.new_share:.1%}) vs {r.reference_count:,} reference ({r.reference_share:.1%}); "
                     f"ratio {r.ratio:.2f} [{r.ratio_low:.2f}, {r.ratio_high:.2f}], p = {r.p_value:.2g}")
        lines.append(f"  reads like: {r.description}")
        lines.append(f"  distinctive words: {', '.join(r.words) or '-'}")
        mix = ", ".join(f"{c} {v:.0%}" for c, v in sorted(r.class_mix.items(), key=lambda kv: -kv[1]) if v > 0)
        lines.append(f"  predicted: {mix or '-'}" + (f"; accuracy of its {r.labelled:,} labelled new documents "
                                                     f"{r.accuracy:.1%}" if r.accuracy is not None else ""))
        for j in r.nearest_reference[:3]:
            lines.append(f"  nearest reference document {j}: {str(reference.df['text'].iat[j])[:100]}")
        for j in (r.new_rows if r.direction == "over" else [])[:3]:
            lines.append(f"  e.g. new document {j}: {str(new.df['text'].iat[j])[:100]}")
        lines.append("")
    if len(d.flagged) > shown:
        lines.append(f"({len(d.flagged) - shown} more flagged regions: see --output)")
    rest = [r for r in d.regions if not r.flagged]
    if rest:
        lines.append(f"{len(rest)} more region{'s' if len(rest) > 1 else ''} tested, not significant (ratio of shares, "
                     "95% interval, p): " + "; ".join(f"{r.ratio:.2f} [{r.ratio_low:.2f}, {r.ratio_high:.2f}], "
                                                       f"p = {r.p_value:.2g}" for r in rest[:shown]))
    return "\n".join(lines)


def cmd_drift(args) -> int:
    import pandas as pd

    from .corpus_index import load_index_of
    from .drift import drift
    from .indexing import read_or_index
    from .inference import Explorer

    explorer = Explorer.load(args.model)
    reference = load_index_of(args.reference, explorer.labels)
    if reference is None:
        raise ValueError(f"--reference {args.reference} is not an index written by `python -m vae_core index`: index "
                         "the reference corpus first.")
    new = read_or_index(explorer.model, args.data, args.text_column, args.label_column, args.seed, reference=reference)
    t0 = time.time()
    d = drift(explorer, reference, new, seed=args.seed, progress=lambda step: print(f"drift: {step}", file=sys.stderr))
    print(format_drift(d, reference, new, explorer.labels))
    print(f"(drift measured and described in {time.time() - t0:.1f} s)")
    if args.output:
        region = {r.id: r for r in d.regions}
        _write_csv(pd.DataFrame({
            "row": range(len(new)), "region": d.region_of,
            "region_flagged": [bool(region[g].flagged) if g >= 0 else False for g in d.region_of],
            "drift_score": d.scores.round(4), "pred": new.df["pred"],
            "region_description": [region[g].description if g >= 0 else "" for g in d.region_of]}), args.output)
    return 0


def _write_csv(table, output: str | None) -> None:
    if output:
        from .files import atomic_path

        with atomic_path(Path(output)) as tmp:
            table.to_csv(tmp, index=False)
        print(f"wrote {len(table):,} rows to {output}")


def cmd_slices(args) -> int:
    from .indexing import read_or_index
    from .inference import Explorer
    from .interpret.groups import error_slices, slice_membership

    explorer = Explorer.load(args.model)
    corpus = read_or_index(explorer.model, args.data, args.text_column, args.label_column, args.seed)
    if not corpus.has_labels:
        raise ValueError(f"{args.data} has no labels (column '{args.label_column or 'label'}'): error slices need the true classes.")
    wrong = int((corpus.df["correct"] == False).sum())  # noqa: E712
    t0 = time.time()
    slices = error_slices(explorer, corpus, min_size=args.min_size)
    sliced = sum(s.size for s in slices)
    print(f"{len(slices)} error slices of {sliced:,} of the {wrong:,} misclassified documents "
          f"({sliced / max(wrong, 1):.0%}; {time.time() - t0:.1f} s), largest first:\n")
    for s in slices:
        print(f"slice {s.id}: {s.size} documents, mostly true {s.true_label} -> predicted {s.pred_label} "
              f"({s.pair_share:.0%})\n  reads like ({s.description_label}): {s.description}\n"
              f"  distinctive words: {', '.join(s.words) or '-'}")
        for r in s.examples:
            print(f"  e.g. row {r}: {corpus.df['text'].iat[r][:100]}")
        print()
    _write_csv(slice_membership(corpus, slices)[["row", "slice", "description"]], args.output)
    return 0


def cmd_suspects(args) -> int:
    from .indexing import read_or_index
    from .interpret.groups import suspect_labels

    model = _load(args.model)
    corpus = read_or_index(model, args.data, args.text_column, args.label_column, args.seed)
    if not corpus.has_labels:
        raise ValueError(f"{args.data} has no labels (column '{args.label_column or 'label'}'): there is nothing to suspect.")
    table = suspect_labels(corpus)
    print(f"{len(table):,} suspect labels of {int(corpus.df['label'].notna().sum()):,}, the most suspect first:")
    for t in table.head(args.show).itertuples():
        print(f"  row {t.row}: given {t.label}, suggested {t.suggested} (score {t.score:.3f}; model p(given) "
              f"{t.p_label:.3f}; neighbours with the given label {t.neighbours_label:.0%}) {t.text[:80]}")
    _write_csv(table.drop(columns="text"), args.output)
    return 0


def cmd_corrections(args) -> int:
    """Print a corpus' corrections log, or write the corrected data file (--export)."""
    from .catalog import list_corpora
    from .corrections import CorrectionLog, export_frame, find_source, log_path, safe_name, write_export
    from .corpus_index import CorpusIndex

    model = _load(args.model)
    corpora = list_corpora(Path(args.model))
    name = safe_name(args.corpus)
    if name not in corpora:
        raise ValueError(f"The model has no corpus '{name}'; its corpora: {', '.join(corpora) or 'none'} "
                         f"(`python -m vae_core index {args.model} --data FILE` makes one).")
    corpus = CorpusIndex.load(corpora[name])
    log = CorrectionLog(log_path(args.model, name), corpus.df["text"].tolist(), corpus.df["label"].tolist(), model.labels)
    lines = log.lines()
    decisions = log.decisions()
    if not args.export:
        print(f"{log.path}: {len(lines):,} lines, {len(decisions):,} rows decided "
              + " · ".join(f"{s} {sum(d.status == s for d in decisions.values()):,}" for s in
                           ("relabel", "keep", "ambiguous", "exclude")))
        for rec in lines:
            if rec["status"] == "undo":
                print(f"  {rec['time']}  undo {rec['undoes'][:8]}  ({rec.get('view', '')})")
            else:
                change = f"{rec['old']} -> {rec['new']}" if rec["status"] == "relabel" else f"{rec['old']}"
                print(f"  {rec['time']}  {rec['id'][:8]}  row {rec['row']:>6}  {rec['status']:<9} {change}  "
                      f"({rec.get('view', '')})")
        return 0
    meta = corpus.meta
    source = find_source(args.model, meta, args.data)
    frame = export_frame(source, log, args.text_column or meta.get("text_column") or "text",
                         args.label_column or meta.get("label_column") or "label")
    write_export(frame, args.export)
    changed = sum(d.status == "relabel" for d in decisions.values())
    dropped = sum(d.status == "exclude" for d in decisions.values())
    print(f"wrote {args.export}: {len(frame):,} rows of {source} ({changed:,} labels replaced, "
          f"{sum(d.status == 'ambiguous' for d in decisions.values()):,} marked ambiguous, {dropped:,} excluded rows "
          f"left out); train on it: python -m vae_core train --train-file {args.export} --dev-file DEV --output-dir RUN")
    return 0


def cmd_regions(args) -> int:
    from .corpus_index import CorpusIndex, read_index, write_index
    from .indexing import Indexer

    df, meta = read_index(args.index)
    model = _load(args.model)
    if meta.get("labels") and list(meta["labels"]) != model.labels:
        raise ValueError(f"{args.index} was indexed with another model's classes: name its regions with that model.")
    t0 = time.time()
    regions = Indexer(model, seed=meta.get("seed", 0)).regions(CorpusIndex(df, meta))
    print(f"named {len(regions)} regions of the map in {time.time() - t0:.1f} s")
    write_index(df, Path(args.index), {k: v for k, v in meta.items() if k != "version"}
                | {"regions": [r.to_dict() for r in regions]})
    return 0


def cmd_index(args) -> int:
    from .indexing import index_streamed

    index_streamed(args.model, args.data, args.output, args.text_column, args.label_column, args.projection,
                   args.seed, args.chunk_rows, args.max_rows, args.keep_parts, args.batch_size)
    return 0


def cmd_build_default(args) -> int:
    """Train, evaluate, index and document the default AG News model from scratch."""
    from .default_model import build_default

    if not args.data_dir or not (Path(args.data_dir) / "train.csv").is_file():
        raise FileNotFoundError(
            f"build-default needs the AG News files: --data-dir FOLDER holding train.csv and dev.csv"
            f"{f' ({args.data_dir} has no train.csv)' if args.data_dir else ''}. The repository ships them in "
            "assets/data/ag_news.")
    out = Path(args.output)
    try:
        shown = str(out.resolve().relative_to(REPO))
    except ValueError:
        shown = str(out)
    given = {k: v for k, v in (("epochs", args.epochs), ("decoder_epochs", args.decoder_epochs)) if v is not None}
    res = build_default(Path(args.data_dir), out, args.run_dir, args.seed, given, args.resume, args.init_from,
                        args.evaluate_only, REBUILD_COMMAND, shown)
    print(f"dev accuracy {res.get('accuracy', float('nan')):.4f}")
    return 0


LABELS_OPTIONAL = "default: 'label' when the file has that column, else none; an empty string for none"


def _add_corpus_commands(sub) -> None:
    """evaluate, index, slices, suspects: a model and a corpus file."""
    for name, helptext, func in (("evaluate", "figures of a model on a corpus", cmd_evaluate),
                                 ("index", "encode a corpus into a map table for the app (also under `accelerate launch`)", cmd_index)):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("model", help="checkpoint folder")
        s.add_argument("--data", required=True, help="CSV, Parquet or JSONL (index: also a folder of Parquet files)")
        s.add_argument("--text-column", default="text")
        s.add_argument("--label-column", help=LABELS_OPTIONAL)
        s.add_argument("--batch-size", type=int, default=64)
        s.set_defaults(func=func)
    e = sub.choices["evaluate"]
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.add_argument("--limit", type=int, help="only the first N rows")
    e.add_argument("--generation-rows", type=int, default=None,
                   help="decode the first N rows for BLEU and label consistency (default: all; 0: none)")
    e.add_argument("--output", help="also write the JSON here")
    e.add_argument("--write-card", action="store_true", help="rewrite the model card with these figures")
    i = sub.choices["index"]
    i.add_argument("--output", help="Parquet file (default: MODEL/index/<data name>.parquet)")
    i.add_argument("--projection", choices=["umap", "pca"], default="umap")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--max-rows", type=int, help="refuse a file of more rows (default: no limit; the input streams)")
    i.add_argument("--chunk-rows", type=int, default=4096,
                   help="documents a chunk: each is encoded by one process and written as one part (default %(default)s)")
    i.add_argument("--keep-parts", action="store_true", help="keep OUTPUT.parts/ after the index is written")
    for name, helptext, func in (
            ("slices", "group the misclassified documents of a labelled corpus, each described in words", cmd_slices),
            ("suspects", "rank the documents whose label is probably wrong (confident learning)", cmd_suspects)):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("model", help="checkpoint folder")
        s.add_argument("--data", required=True, help="CSV, Parquet or JSONL with labels, or an index written by `index`")
        s.add_argument("--text-column", default="text")
        s.add_argument("--label-column", help=LABELS_OPTIONAL)
        s.add_argument("--output", help="also write the table here (CSV)")
        s.add_argument("--seed", type=int, default=0, help="of the map, when --data is not an index")
        s.set_defaults(func=func)
    sub.choices["slices"].add_argument("--min-size", type=int, default=5, help="smallest slice (default %(default)s)")
    sub.choices["suspects"].add_argument("--show", type=int, default=20, help="suspects printed (default %(default)s)")


def _add_model_commands(sub) -> None:
    """calibrate, drift, corrections, regions: what is done to a model and its corpora."""
    c = sub.add_parser("calibrate", help="fit a temperature on labelled dev data when it lowers the calibration "
                                         "error (train does this itself)")
    c.add_argument("model", help="checkpoint folder")
    c.add_argument("--data", required=True, help="labelled CSV, Parquet or JSONL (the dev file)")
    c.add_argument("--text-column", default="text")
    c.add_argument("--label-column", default="label")
    c.add_argument("--seed", type=int, default=0, help="of the split into halves (default %(default)s)")
    c.set_defaults(func=cmd_calibrate)
    dr = sub.add_parser("drift", help="where a new corpus differs from a reference corpus, in words")
    dr.add_argument("model", help="checkpoint folder")
    dr.add_argument("--reference", required=True, help="the reference corpus: an index written by `index`")
    dr.add_argument("--data", required=True, help="the new corpus: CSV, Parquet or JSONL, or an index")
    dr.add_argument("--output", help="also write one row per new document (its region and drift score) here (CSV)")
    dr.add_argument("--text-column", default="text")
    dr.add_argument("--label-column", help=LABELS_OPTIONAL)
    dr.add_argument("--seed", type=int, default=0)
    dr.set_defaults(func=cmd_drift)
    co = sub.add_parser("corrections", help="print a corpus' label corrections (made in the app), or write the "
                                            "corrected data file")
    co.add_argument("model", help="checkpoint folder")
    co.add_argument("--corpus", required=True, help="the corpus' name, as the app's sidebar lists it")
    co.add_argument("--export", help="write the corrected data here (.csv, .parquet or .jsonl): the original columns, "
                                     "the label replaced, label_original and review beside it, excluded rows left out")
    co.add_argument("--data", help="the data file the corpus was indexed from (found by itself when it is where it was)")
    co.add_argument("--text-column", help="default: the index's, or 'text'")
    co.add_argument("--label-column", help="default: the index's, or 'label'")
    co.set_defaults(func=cmd_corrections)
    r = sub.add_parser("regions", help="name the regions of an index's map (stored in the index)")
    r.add_argument("model", help="checkpoint folder")
    r.add_argument("index", help="index file written by `index`")
    r.set_defaults(func=cmd_regions)
    rp = sub.add_parser("report", help="the offline HTML report is drawn with the app's figures: python -m app_ui report")
    rp.add_argument("rest", nargs=argparse.REMAINDER)
    rp.set_defaults(func=cmd_report_moved)


def _add_build_default(sub) -> None:
    b = sub.add_parser("build-default", help="rebuild the shipped AG News model from scratch (CPU, ~50 min)")
    b.add_argument("--data-dir", default=str(DEFAULT_DATA) if IN_CHECKOUT else None,
                   help="folder with the AG News train.csv and dev.csv (default: the repository's assets/data/ag_news)")
    b.add_argument("--run-dir", default="runs/ag_news_vae")
    b.add_argument("--output", default=str(DEFAULT_MODEL))
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--epochs", type=float, help="joint epochs (default: the recipe's, 5)")
    b.add_argument("--decoder-epochs", type=float, help="epochs of each decoder phase (default: the recipe's, 5)")
    b.add_argument("--resume", action="store_true")
    b.add_argument("--init-from", help="skip the joint phase: keep this checkpoint's encoder, posterior and classifier "
                                       "(trained by the same recipe) and run the decoder phase on them")
    b.add_argument("--evaluate-only", action="store_true",
                   help="do not train: evaluate, document and index the model in --output again")
    b.set_defaults(func=cmd_build_default)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vae-core", description="Transformer VAE classifier: train, evaluate, index.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on a labelled corpus")
    _add_train_args(t)
    t.add_argument("--no-index", action="store_true",
                   help="do not index the dev file (or a sample of the training file) for the app after training")
    t.set_defaults(func=cmd_train)
    _add_corpus_commands(sub)
    _add_model_commands(sub)
    _add_build_default(sub)
    return p


def cmd_report_moved(args) -> int:
    """The report is drawn with the app's figures, which the library does not import: its command is the app's."""
    raise FileNotFoundError("the offline report is drawn with the app's figures, so it is the app's command now: run "
                            f"`python -m app_ui report {' '.join(args.rest) or 'MODEL --data FILE'}` from the "
                            "repository's folder.")


def run_command(func, args) -> int:
    """Run one command: a problem with the user's files or options is said in one line (exit code 2), never as a
    traceback."""
    from .config import ConfigError
    from .data import DataError
    from .encoders import CheckpointError

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return func(args)
    except (DataError, CheckpointError, ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a training run continues with --resume", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
