"""The offline report: one self-contained HTML file on a model and a corpus (`python -m app_ui report`, and the
Model page's "Download report"). Plotly's JavaScript is inlined once and each figure is a div drawn by it; images
(the map's density past the points limit) are inlined as data URIs; nothing is fetched from the network.

What it holds is gathered by `vae_core.report_data.gather`; this module only draws it, with the pages' figures.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

from app_ui import classes, figures
from app_ui.markup import attribution_html, attribution_legend

REPORT_POINTS_MAX = 20_000  # documents drawn as points on the report's map; more are drawn as a density image
PLOT_CONFIG = {"displaylogo": False, "responsive": True}

CSS = """
body { font-family: "Source Sans Pro", "Segoe UI", Helvetica, Arial, sans-serif; color: #111827; margin: 0;
       background: #F3F4F6; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; background: white; }
h1 { font-size: 1.8rem; margin: 0.2rem 0; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #E5E7EB; padding-bottom: 0.3rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
.meta { color: #6B7280; font-size: 0.92rem; }
.tiles { display: flex; gap: 14px; flex-wrap: wrap; margin: 12px 0; }
.tile { border: 1px solid #E5E7EB; border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.tile .v { font-size: 1.6rem; font-weight: 600; }
.tile .k { color: #6B7280; font-size: 0.85rem; }
table { border-collapse: collapse; font-size: 0.92rem; margin: 8px 0; }
th, td { border-bottom: 1px solid #E5E7EB; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #F9FAFB; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
.grid1 { display: grid; grid-template-columns: 1fr; gap: 20px; }
.badge { color: white; padding: 1px 8px; border-radius: 10px; font-size: 0.82rem; font-weight: 600; white-space: nowrap; }
.doc { background: #F9FAFB; border-radius: 6px; padding: 10px 12px; margin: 6px 0; }
.note { color: #4B5563; font-size: 0.9rem; }
@media (max-width: 800px) { .grid2 { grid-template-columns: 1fr; } }
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _badge(label: str, colors: dict[str, str]) -> str:
    color = colors.get(label, "#6B7280")
    return f'<span class="badge" style="background:{color}; color:{classes.text_on(color)}">{_e(label)}</span>'


def _figure(fig) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False, config=PLOT_CONFIG)


def _tile(value: str, key: str) -> str:
    return f'<div class="tile"><div class="v">{_e(value)}</div><div class="k">{_e(key)}</div></div>'


def _summary(data: dict) -> str:
    m = data["model"]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in m["facts"])
    return f"<h2>The model</h2><table>{rows}</table>"


def _classification(data: dict, colors: dict[str, str]) -> str:
    c = data.get("classification")
    if c is None:
        return ("<h2>Classification</h2><p class='note'>The corpus has no labels: accuracy, calibration and error "
                "slices need the true classes.</p>")
    base = data.get("baseline")
    cal = data["calibration"]
    tiles = [_tile(f"{c['accuracy']:.1%}", f"accuracy on {c['documents']:,} documents"),
             _tile(f"{c['macro_f1']:.3f}", "macro-F1"),
             _tile(f"{cal['ece']:.2%}", "expected calibration error")]
    if base:
        tiles.append(_tile(f"{base['accuracy']:.1%}", f"{base['name']} (trained on {base['train_file']})"))
    head = "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th>" + (
        f"<th>F1 of {_e(base['name'])}</th>" if base else "") + "</tr>"
    body = ""
    per_class = c["per_class"].items()
    if len(c["per_class"]) > classes.FEW:  # many classes: the worst first, where the reader looks
        per_class = sorted(per_class, key=lambda kv: (kv[1]["f1"], kv[0]))
    for k, v in per_class:
        body += (f"<tr><td>{_badge(k, colors)}</td><td class='n'>{v['precision']:.3f}</td><td class='n'>{v['recall']:.3f}</td>"
                 f"<td class='n'>{v['f1']:.3f}</td><td class='n'>{v['support']:,}</td>"
                 + (f"<td class='n'>{base['per_class'][k]['f1']:.3f}</td>" if base else "") + "</tr>")
    baseline_note = (f"<p class='note'>The baseline is a {_e(base['name'])} classifier (words and bigrams) trained on "
                     f"the model's own training file ({base['train_rows']:,} labelled rows) in the same run, scored "
                     "on the same documents.</p>" if base else
                     "<p class='note'>No baseline: the model's training file was not found unchanged beside the data.</p>")
    temp = cal.get("temperature", 1.0)
    cal_note = (f"The probabilities are the classifier's logits over a temperature of {temp:.3f}, fitted on the dev "
                f"file (without it, ECE {cal['ece_unscaled']:.2%})." if "ece_unscaled" in cal else
                "The probabilities are the classifier's, with no temperature.")
    cm = figures.confusion_matrix(data["labels"], c["confusion_matrix"])
    shown = len(cm.data[0].z)
    matrix_note = ("" if shown == len(data["labels"]) else
                   f" The {shown} classes of the most-confused pairs, of {len(data['labels'])}.")
    if len(data["labels"]) > classes.FEW:
        matrix_note += " Classes the model finds alike sit next to each other; hover a cell for its classes and count."
    rel = figures.reliability_diagram(cal["reliability"])
    grid = "grid1" if len(data["labels"]) > classes.FEW else "grid2"  # many classes: the matrix takes the full width
    return (f"<h2>Classification</h2><div class='tiles'>{''.join(tiles)}</div><table>{head}{body}</table>{baseline_note}"
            f"<div class='{grid}'><div><h3>Confusion matrix</h3><p class='note'>Rows: true class; columns: predicted. "
            f"Shaded by the share of the row.{matrix_note}</p>{_figure(cm)}</div>"
            "<div><h3>Is \"96% sure\" true? Reliability</h3><p class='note'>Documents grouped by the confidence of "
            "their predicted class (15 bins): the bars are how often the prediction was right, the red marks the mean "
            "confidence. On the diagonal, the model is as right as it says. ECE is the gap averaged over documents "
            f"(mean confidence {cal['mean_confidence']:.1%}, accuracy {c['accuracy']:.1%}). {cal_note}</p>"
            f"{_figure(rel)}</div></div>")


def _map(data: dict, corpus, colors: dict[str, str]) -> str:
    regions = corpus.regions or []
    fig = figures.latent_map(corpus.df, data["labels"], color_by="label", height=640, regions=regions,
                             points_max=REPORT_POINTS_MAX)
    dense = len(corpus) > REPORT_POINTS_MAX
    rows = "".join(f"<tr><td>{_e(r.headline)}</td><td>{_badge(r.label, colors)}</td><td class='n'>{r.size:,}</td>"
                   f"<td>{_e(', '.join(r.words))}</td></tr>" for r in regions)
    table = (f"<table><tr><th>region, as the decoder writes its centre</th><th>mostly predicted</th><th>documents</th>"
             f"<th>distinctive words</th></tr>{rows}</table>" if regions else "")
    return ("<h2>The latent map</h2><p class='note'>Every document's posterior mean, projected to two dimensions by "
            "UMAP, coloured by its true class (its prediction when unlabelled)"
            + (f"; {len(corpus):,} documents are drawn as a density image with a sample of them as points" if dense else "")
            + ". The named regions are written by the decoder from the centre of each dense area.</p>"
            + _figure(fig) + table)


def _slices(data: dict, colors: dict[str, str]) -> str:
    if "slices" not in data:
        return ""
    t = data["slices_total"]
    out = (f"<h2>Where the model goes wrong</h2><p class='note'>{t['wrong']:,} misclassified documents; "
           f"{t['documents']:,} of them fall in {t['slices']} groups of neighbours on the map (HDBSCAN), each described "
           "by the text the decoder writes from its centre and by its distinctive words. The largest first.</p>")
    rows = ""
    for s in data["slices"]:
        rows += (f"<tr><td class='n'>{s['size']}</td><td>{_badge(s['true'], colors)} &rarr; {_badge(s['pred'], colors)}"
                 f" <span class='note'>({s['pair_share']:.0%})</span></td><td>{_e(s['description'])}</td>"
                 f"<td>{_e(', '.join(s['words']))}</td><td>{_e(s['examples'][0][:160]) if s['examples'] else ''}</td></tr>")
    out += (f"<table><tr><th>documents</th><th>true &rarr; predicted</th><th>reads like</th><th>distinctive words</th>"
            f"<th>for example</th></tr>{rows}</table>")
    if data.get("pairs"):
        rows = ""
        for p in data["pairs"]:
            rows += (f"<tr><td>{_badge(p['true'], colors)} &rarr; {_badge(p['pred'], colors)}</td>"
                     f"<td class='n'>{p['count']:,} ({p['share']:.0%})</td>"
                     f"<td><b>{_e(p['true'])}:</b> {_e(p['texts'][0])}<br><b>boundary:</b> {_e(p['texts'][1])}<br>"
                     f"<b>{_e(p['pred'])}:</b> {_e(p['texts'][2])}</td>"
                     f"<td>{_e(', '.join(p['words_true']) or '-')} <span class='note'>vs</span> "
                     f"{_e(', '.join(p['words_pred']) or '-')}</td></tr>")
        out += ("<h3>The most-confused pairs, and what separates them</h3><p class='note'>Each pair: how many documents "
                "of the true class the model predicts as the other (and their share of the class); the text the decoder "
                "writes at the true class's centre in latent space, where the line between the two centres crosses "
                "the boundary, and at the predicted class's centre; and the words that set each class's documents apart from the "
                "other's.</p><table><tr><th>true &rarr; predicted</th><th>documents</th><th>decoded across the "
                f"boundary</th><th>words: true vs predicted</th></tr>{rows}</table>")
    if data.get("suspects"):
        rows = "".join(f"<tr><td class='n'>{s['row']}</td><td>{_badge(s['label'], colors)}</td>"
                       f"<td>{_badge(s['suggested'], colors)}</td><td class='n'>{s['score']:.3f}</td>"
                       f"<td>{_e(s['text'][:200])}</td></tr>" for s in data["suspects"])
        out += ("<h3>Labels that are probably wrong</h3><p class='note'>Confident learning: documents whose given label "
                "the model and their neighbours in latent space both doubt, the most suspect first.</p>"
                f"<table><tr><th>row</th><th>given</th><th>suggested</th><th>score</th><th>text</th></tr>{rows}</table>")
    return out


def _examples(data: dict, colors: dict[str, str]) -> str:
    out = ("<h2>Why the model decides: three explained documents</h2><p class='note'>Integrated Gradients (captum, on "
           "the embedding layer, from a PAD baseline): each word coloured by how much it pushed the predicted class's "
           "probability up (class colour) or down (grey hatching). Beside each, the erasure test: the probability when "
           "the top 10/20/30/50% of the words are removed (comprehensiveness, higher is more faithful) and when only "
           "they are kept (sufficiency, lower is better), against as many random words.</p>")
    for ex in data["examples"]:
        attr = ex["attribution"]
        label = ex["pred"]
        f = ex["faithfulness"]
        ig, rnd = f["integrated_gradients"], f["random"]
        true = (f" &middot; true {_badge(ex['label'], colors)}" if ex["label"] is not None and ex["label"] == ex["label"]
                else "")
        curve = " &rarr; ".join(f"{p:.0%}" for p in [ig["prob"]] + ig["removed_prob"])
        rcurve = " &rarr; ".join(f"{p:.0%}" for p in [rnd["prob"]] + rnd["removed_prob"])
        out += (f"<h3>Row {ex['row']}: {_e(ex['why'])}</h3><div>predicted {_badge(label, colors)} "
                f"{ex['confidence']:.1%}{true}</div><div class='doc'>{attribution_legend(label, colors[label])}"
                f"{attribution_html(ex['text'], attr, colors[label])}</div>"
                f"<p class='note'>p({_e(label)}) as the top words are removed: {curve} (random words: {rcurve}). "
                f"Comprehensiveness {ig['comprehensiveness']:.3f} (random {rnd['comprehensiveness']:.3f}), sufficiency "
                f"{ig['sufficiency']:.3f} (random {rnd['sufficiency']:.3f}). "
                + (f"Path integral converged in {attr.steps} steps." if attr.converged else
                   f"The path integral did not converge in {attr.steps} steps: the scores are approximate.") + "</p>")
    return out


def _interpolation(data: dict, colors: dict[str, str]) -> str:
    it = data.get("interpolation")
    if not it:
        return ""
    rows = "".join(f"<tr><td class='n'>{i}</td><td>{_badge(p, colors)} <span class='note'>{c:.0%}</span></td>"
                   f"<td>{_e(t) or '<i>(empty)</i>'}</td></tr>"
                   for i, (t, p, c) in enumerate(zip(it["decoded"], it["pred"], it["confidence"])))
    a, b = it["rows"]
    return ("<h2>Between two documents: a decoded interpolation</h2><p class='note'>The straight line in latent space "
            f"from row {a} to row {b}, decoded at {len(it['decoded'])} points and classified at each.</p>"
            f"<div class='doc'><b>From</b> (row {a}): {_e(it['texts'][0][:300])}</div>"
            f"<div class='doc'><b>To</b> (row {b}): {_e(it['texts'][1][:300])}</div>"
            f"<table><tr><th>step</th><th>class</th><th>decoded text</th></tr>{rows}</table>")


def render(data: dict, corpus) -> str:
    """The report as one HTML document."""
    import plotly.offline

    colors = figures.class_colors(data["labels"])
    m, d = data["model"], data["data"]
    version = f" &middot; weights sha256 {m['weights_sha256'][:12]}" if m.get("weights_sha256") else ""
    head = (f"<h1>{_e(m['name'])}: model report</h1><div class='meta'>Made {_e(data['made_at'])} on "
            f"<b>{_e(d['name'])}</b> ({d['documents']:,} documents"
            + (f", sha256 {_e(d['sha256'][:12])}" if d.get("sha256") else "") + f"){version} &middot; "
            f"built in {data.get('seconds', 0):.0f} s by vae_core. This file needs no server and no network.</div>")
    body = (head + _summary(data) + _classification(data, colors) + _map(data, corpus, colors) + _slices(data, colors)
            + _examples(data, colors) + _interpolation(data, colors))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(m['name'])}: model report</title>"
            f"<style>{CSS}</style><script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head>"
            f"<body><main>{body}</main></body></html>")


def build_report(explorer, corpus, data_name: str, data_sha256: str | None = None, train_file: Path | None = None,
                 seed: int = 0, progress: Callable[[str, float], None] | None = None) -> str:
    """Gather (`vae_core.report_data.gather`) and draw the report of `explorer`'s model on the index `corpus`."""
    from app_ui import classes
    from vae_core.report_data import gather

    classes.register_model(explorer)
    data = gather(explorer, corpus, data_name, data_sha256, train_file, seed=seed, progress=progress)
    return render(data, corpus)


APP_DATA = Path(__file__).resolve().parents[1] / "assets" / "data"


def app_training_file(explorer) -> Path | None:
    """The model's training file for the report's baseline, when the app has it unchanged: in the repository's
    data folders (the bundled models') or where the model's fingerprint says."""
    from vae_core.report_data import find_training_file

    if explorer.folder is None:
        return None
    near = [p for p in sorted(APP_DATA.iterdir()) if p.is_dir()] if APP_DATA.is_dir() else []
    return find_training_file(explorer.folder, near)


def file_name(model: str, corpus: str) -> str:
    """A download's file name from the model's and corpus' names (letters, digits, - and _ only)."""
    import re

    parts = [re.sub(r"[^A-Za-z0-9-]+", "_", part).strip("_") for part in (model, corpus)]
    clean = "_".join(p for p in parts if p) or "model"
    return f"{clean[:80]}_report.html"
