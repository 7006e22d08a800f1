"""The model card (README.md in a checkpoint folder), written from measured figures only."""
from __future__ import annotations

import json
from pathlib import Path

from .catalog import display_name
from .decoding import DEFAULT_SCORER
from .evaluate import FIGURES, figure_rows
from .files import atomic_write
from .generation import DECODE_CANDIDATES, DECODE_TEMPERATURE

# The Hugging Face metadata of a model trained on the bundled AG News data (the card's header): the corpus is
# for research and non-commercial use, which the base encoder's Apache-2.0 licence does not lift.
AG_NEWS_METADATA = {"datasets": ["fancyzhx/ag_news"], "license": "other",
                    "license_name": "research-and-non-commercial-use",
                    "dataset_name": "AG News (half of the test split, stratified)"}
AG_NEWS_NOTE = (
    "AG's News topic classification data (X. Zhang, J. Zhao, Y. LeCun, \"Character-level Convolutional "
    "Networks for Text Classification\", NeurIPS 2015), built from A. Gulli's AG corpus of news articles. "
    "The corpus is offered for research and non-commercial use."
)


def _load(folder: Path, name: str):
    p = folder / name
    return json.loads(p.read_text()) if p.exists() else None


def card_metadata(name: str, cfg: dict, evaluation: dict | None, metadata: dict | None = None) -> str:
    """The card's YAML header as the Hugging Face Hub reads one: library, base model, pipeline tag, tags,
    licence and datasets where known (`metadata`), and a model-index holding the measured figures."""
    import yaml

    meta = {k: v for k, v in (metadata or {}).items() if k != "dataset_name"}
    head: dict = {"library_name": "vae-core", "pipeline_tag": "text-classification",
                  "tags": ["variational-autoencoder", "text-classification", "latent-space", "interpretability"]}
    encoder = cfg.get("encoder_name_or_path") or ""
    if encoder and not Path(encoder).is_absolute() and not encoder.startswith("."):
        head["base_model"] = encoder
    head.update(meta)
    if evaluation and evaluation.get("accuracy") is not None:
        dataset = {"name": (metadata or {}).get("dataset_name") or Path(evaluation.get("file") or "dev").name,
                   "type": ((metadata or {}).get("datasets") or [Path(evaluation.get("file") or "dev").stem])[0]}
        head["model-index"] = [{"name": name, "results": [{
            "task": {"type": "text-classification", "name": "Text Classification"},
            "dataset": dataset,
            "metrics": [{"type": f.hub[0], "value": round(float(evaluation[f.key]), 4), "name": f.hub[1]}
                        for f in FIGURES if f.hub and evaluation.get(f.key) is not None]}]}]
    return "---\n" + yaml.safe_dump(head, sort_keys=False, allow_unicode=True) + "---\n"


def calibration_note(cfg: dict, check: dict | None) -> str:
    """The card's line on the class probabilities' temperature and why it was (not) fitted."""
    t = cfg.get("temperature", 1.0)
    if check is None:
        return (f"- Class probabilities: softmax of the logits over temperature {t:g}" if t != 1.0 else
                "- Class probabilities: softmax of the classifier's logits (no calibration was fitted)")
    where = f"{check['documents']:,} labelled dev documents"
    if check.get("use"):
        return (f"- Class probabilities: softmax of the logits over temperature {t:.3f}, fitted on {where} "
                f"(temperature scaling, Guo et al. 2017; no prediction changes): ECE {check['ece_before']:.4f} without "
                f"it, {check['ece_held_out']:.4f} with it on held-out halves")
    return f"- Class probabilities: softmax of the logits, no temperature ({check.get('reason', '')}; on {where})"


def render_card(folder: str | Path, evaluation: dict | None = None, data_note: str | None = None,
                rebuild_command: str | None = None, name: str | None = None, load_path: str | None = None,
                metadata: dict | None = None) -> str:
    """The model card (README.md) of the checkpoint in `folder`: the Hub header, what the model is, how it was
    trained, what was measured (`evaluation`), its intended use and its data."""
    folder = Path(folder)
    name = name or folder.name
    cfg = _load(folder, "config.json") or {}
    lines = [
        card_metadata(name, cfg, evaluation, metadata),
        f"# {name}: transformer VAE classifier",
        "",
        "A variational autoencoder whose encoder is a pretrained transformer: each document maps to a Gaussian "
        f"posterior over a {cfg.get('latent_size')}-dimensional latent space; a linear classifier reads z; an "
        "autoregressive transformer decoder turns any z back into text.",
        "",
        "```python",
        "from vae_core import TextVAE",
        f'model = TextVAE.from_pretrained("{load_path or folder.as_posix()}")',
        'model.predict_proba(["some text"])',
        "```",
        *_model_section(folder, cfg),
        *_training_section(folder, evaluation),
    ]
    if rebuild_command:
        lines += ["", f"Rebuild from scratch: `{rebuild_command}`"]
    if evaluation:
        lines += _measured_section(evaluation)
    lines += ["", "## Intended use and limits", "",
              "For exploring and debugging a text classifier: probabilities, attributions, latent maps, "
              "interpolation and decoding. Decoded text is a lossy summary of the latent, not a faithful copy "
              "of the input. The classifier only knows the classes it was trained on."]
    if data_note:
        lines += ["", "## Data", "", data_note]
    return "\n".join(lines) + "\n"


def _model_section(folder: Path, cfg: dict) -> list[str]:
    """## Model: encoder, latent, decoder, stored weights and the class probabilities' temperature."""
    args = _load(folder, "training_args.json") or {}
    return [
        "",
        "## Model",
        "",
        f"- Encoder: `{cfg.get('encoder_name_or_path')}`"
        + (f", weights from the installed package `{cfg['base_package']}`" if cfg.get("base_package") else ""),
        "- Encoder weights read from the base model on load (frozen in training): "
        + (", ".join(f"`{k}`" for k in cfg.get("shared_with_base", {})) or "none"),
        f"- Latent size {cfg.get('latent_size')}"
        + (f" (the classifier reads the first {cfg['latent_size'] - cfg['content_latent_size']}; the last "
           f"{cfg['content_latent_size']} are a content part for the decoder)" if cfg.get("content_latent_size") else "")
        + f"; classes: {', '.join(cfg.get('labels', []))}",
        f"- Decoder: {cfg.get('decoder_layers')} layers, {cfg.get('decoder_heads')} heads, "
        f"{cfg.get('decoder_memory_tokens')} memory vectors from z"
        + (" and the classifier's p(y|z)" if cfg.get("decoder_class_conditioning") else "")
        + f", up to {cfg.get('decoder_max_length')} tokens, "
        f"output vocabulary of {cfg.get('decoder_vocab_size') or 'all'} WordPiece tokens"
        + (f"; decoding adds {cfg['decoder_bow_guidance']} x the bag-of-words head's log-probabilities at z to each "
           "step (each word's pull ends once it is written)" if cfg.get("decoder_bow_guidance") else "")
        + (", and it was trained with that guidance" if cfg.get("decoder_bow_guidance")
           and cfg.get("decoder_guided_training") else "")
        + (f"; in training {cfg['word_dropout']:.0%} of its input tokens were masked (word dropout)"
           if cfg.get("word_dropout") else "")
        + (f"; it also reads the first {cfg['prototype_tokens']} tokens of the training document nearest to z and "
           "edits it (prototype, then edit; the training documents are stored with the model)"
           if cfg.get("prototype_tokens") else ""),
        f"- Weights stored as {args.get('save_dtype', 'float16')} safetensors",
        calibration_note(cfg, _load(folder, "calibration.json")),
    ]


def _training_section(folder: Path, evaluation: dict | None) -> list[str]:
    """## Training: data, settings, the stages or runs the model was built in, and the time it took."""
    args = _load(folder, "training_args.json") or {}
    fp = _load(folder, "data_fingerprint.json") or {}
    metrics = _load(folder, "metrics.json") or {}
    lines = [
        "",
        "## Training",
        "",
        f"- Data: `{(fp.get('train') or {}).get('file')}`, {(fp.get('train') or {}).get('rows')} rows "
        f"({fp.get('labelled_rows_used')} labelled), sha256 `{(fp.get('train') or {}).get('sha256', '')[:16]}`",
        f"- Model selection on `{(fp.get('dev') or {}).get('file')}` by accuracy",
        f"- {args.get('epochs')} epochs of every part together, then {args.get('decoder_epochs', 0)} epochs of the "
        f"decoder alone on the best encoder's posteriors; batch {args.get('batch_size')}, encoder lr {args.get('lr')}, "
        f"head lr {args.get('head_lr')}, free bits {args.get('free_bits')} nats/dim, cyclical beta "
        f"({args.get('anneal_cycles')} cycles, max {args.get('beta_max')}), bag-of-words loss weight "
        f"{args.get('bow_weight', 0)}, encoder token dropout {args.get('token_dropout', 0)}, weight averaging (EMA) "
        f"{args.get('ema_decay', 0)}, mixed precision "
        f"{args.get('mixed_precision', 'no')}, seed {args.get('seed')}",
    ]
    content_dims = (args.get("changes") or {}).get("content_dims", args.get("content_dims"))  # flat before ModelChanges
    if content_dims:
        lines.append(f"- Decoder phase: {content_dims} content dimensions added to z, trained with the decoder on "
                     f"the frozen encoder (free bits {args.get('content_free_bits')} nats per dimension)")
    stages = metrics.get("stages")
    init = None if stages else metrics.get("init_from")  # a recipe's stages say where the model came from
    if stages:
        lines.append(_stages_line(metrics))
    elif init:
        lines.append(_init_chain_line(metrics))
    if metrics.get("train_seconds"):
        lines.append(f"- Training time (optimisation steps, excluding evaluation)"
                     f"{' of the decoder phase' if init else ' of all stages' if stages else ''}: {metrics['train_seconds'] / 60:.1f} min")
    if evaluation and evaluation.get("train_wall_minutes"):
        lines.append(f"- Training wall time (the whole train step, evaluations included)"
                     f"{' of the decoder phase' if init else ''}: {evaluation['train_wall_minutes']:.1f} min")
    return lines


def _stages_line(metrics: dict) -> str:
    """A recipe of `train` (vae_core/recipe.py): each stage a run on the model of the one before."""
    stages = metrics["stages"]
    return (f"- Trained in {len(stages)} stages by `train`'s `{metrics.get('recipe', 'full')}` recipe, each "
            "starting from the model of the one before: " + "; ".join(
                f"{s['index']}. {s['title']} ({(s.get('train_seconds') or 0) / 60:.1f} min of optimisation steps"
                + (f", dev accuracy {s['best_dev_accuracy']:.4f}" if s.get("best_dev_accuracy") is not None else "")
                + ")" for s in stages))


def _init_chain_line(metrics: dict) -> str:
    """The runs this one started from (`--init-from`), oldest first, each on the model of the one before."""
    chain, m = [], metrics
    while isinstance(m.get("init_from"), dict):
        m = m["init_from"]
        chain.insert(0, m)
    steps = []
    for m in chain:
        joint = [h for h in m.get("history", []) if h.get("phase") == "joint"]
        secs = joint[-1]["seconds"] if joint else m.get("train_seconds")
        steps.append(f"the {'joint' if joint else 'decoder'} phase of `{display_name(m.get('model', '?'))}`"
                     + (f" ({secs / 60:.1f} min of optimisation steps)" if secs else ""))
    return (f"- Built in {len(chain) + 1} steps, each run starting from the model of the one before "
            f"(`--init-from`): {', then '.join(steps)}, then this run's decoder phase")


def _measured_section(e: dict) -> list[str]:
    """## Measured on ...: the evaluation's figures (evaluate.FIGURES), the reader, the classes, reconstructions."""
    sampled = e.get("dev_rows") and e["dev_rows"] > e.get("documents", 0)
    lines = ["", f"## Measured on `{Path(e.get('file', '')).name}` ({e.get('documents')} documents"
             + (f", a seeded sample of its {e['dev_rows']:,}" if sampled else "") + ")", "",
             "| figure | value |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in figure_rows(e)]
    if e.get("reader_top1") is not None:
        lines += ["", f"The independent reader is the base `{e.get('reader')}` sentence embedding (mean pooling, "
                  "never fine-tuned by this project): it embeds every decoded text and every document, and counts "
                  f"how often a decoded text's nearest document (of {e.get('reader_candidates')}) is its source. "
                  "It only grades; nothing in the model was chosen or trained by it."]
    if "per_class" in e:
        lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['support']} |"
                  for k, v in e["per_class"].items()]
    if e.get("examples"):
        lines += ["", f"Reconstructions from mu (of the greedy text and {DECODE_CANDIDATES - 1} samples at temperature "
                  f"{DECODE_TEMPERATURE}, among those the classifier reads as the class at mu, "
                  f"{DEFAULT_SCORER.description}; no repeated 3-grams, repetition penalty 1.2; written with the "
                  "training corpus' casing):", ""]
        for ex in e["examples"][:4]:
            lines += [f"- in: {ex['text'][:160]}", f"  out: {ex['reconstruction'][:160]}"]
    return lines


def write_card(folder: str | Path, evaluation: dict | None = None, **kw) -> Path:
    folder = Path(folder)
    path = atomic_write(folder / "README.md", render_card(folder, evaluation, **kw))
    if evaluation is not None:
        atomic_write(folder / "evaluation.json", json.dumps(evaluation, indent=2, default=float) + "\n")
    return path
