"""Streamlit pieces shared by the pages: coloured attributions, document cards, links between pages,
and cached model calls (keyed by model and input, so that reruns and other sessions reuse them)."""
from __future__ import annotations

import html
from contextlib import contextmanager

import numpy as np
import streamlit as st

from app_ui import classes, figures
from app_ui.markup import attribution_html, attribution_legend, md  # noqa: F401 (pages use them from here)



def show_attribution(text: str, attr, labels: list[str], title: str, scale: float | None = None,
                     color: str | None = None) -> None:
    """A text's words coloured by their attribution to a class, in `color` (by default the class's own)."""
    label = labels[attr.target]
    color = color or figures.class_colors(labels)[label]
    st.markdown(f"**{md(title)}**")
    st.markdown(attribution_legend(label, color), unsafe_allow_html=True)
    st.markdown(attribution_html(text, attr, color, scale), unsafe_allow_html=True)
    facts = [f"p({md(label)}) = {attr.target_prob:.1%}, with every word removed {attr.baseline_prob:.1%}"]
    if attr.delta is not None:
        total = sum(attr.scores)
        steps = f" in {attr.steps} steps" if attr.steps else ""
        facts.append(f"scores sum to {total:+.3f}, the change in p from no words to the whole text, to within "
                     f"{abs(attr.delta):.1e}" + (f" (converged{steps})" if attr.converged else
                                                 f" (not converged{steps}: the scores are approximate)"))
    if attr.truncated:
        facts.append("grey text lies past what the model reads")
    st.caption(" · ".join(facts))


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """A link to another page; nothing when the page runs on its own (no navigation to link into)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except Exception:  # StreamlitAPIException / KeyError when the page is not registered
        pass


@contextmanager
def user_error():
    """Show a ValueError (a bad input) as a message instead of a traceback; the page keeps running."""
    try:
        yield
    except ValueError as e:
        st.warning(str(e))


def class_badge(label: str, labels: list[str], suffix: str = "", colors: dict[str, str] | None = None) -> str:
    """A class name on its colour (from `colors`, a view's, or the class's own), in text that reads on it."""
    color = (colors or figures.class_colors(labels)).get(label, "#6B7280")
    return (f'<span style="background:{color}; color:{classes.text_on(color)}; padding:1px 8px; border-radius:10px; '
            f'font-size:0.85rem; font-weight:600;">{html.escape(label)}</span>{html.escape(suffix)}')


# ---- cached model calls: `_explorer` is not hashed; its cache_key (folder and weights' mtime) stands for it ----
@st.cache_data(max_entries=256, show_spinner=False)
def cached_classify(_explorer, model: str, text: str):
    """Probabilities and posterior only: pages decode (cached_decode) after drawing the probabilities."""
    return _explorer.classify(text, reconstruct=False)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_attribution(_explorer, model: str, text: str, target: int, method: str):
    return _explorer.attribute(text, target, method)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_faithfulness(_explorer, model: str, text: str, target: int, methods: tuple[str, ...]):
    """The erasure test of each method's attribution of `target` (cached with the attributions themselves)."""
    attrs = [cached_attribution(_explorer, model, text, target, m) for m in methods]
    return _explorer.faithfulness(text, attrs)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_decode(_explorer, model: str, z: tuple[tuple[float, ...], ...]) -> list[str]:
    return _explorer.decode(np.asarray(z, dtype=np.float32))


def as_key(z) -> tuple[tuple[float, ...], ...]:
    """A hashable, exact copy of latents for cache keys."""
    return tuple(tuple(float(v) for v in row) for row in np.atleast_2d(np.asarray(z, dtype=np.float32)))


def quote(text: str) -> None:
    """A document's text in a light box, escaped."""
    st.markdown(f'<div style="padding:0.6rem 0.8rem; background:#F9FAFB; border-radius:6px; margin:0.4rem 0;">'
                f'{html.escape(text)}</div>', unsafe_allow_html=True)


def snippet(text: str, limit: int = 90) -> str:
    """Plain text cut to `limit` characters on one line (for widget labels, which are never HTML)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def table_of(corpus, rows, labels: list[str] | None = None, every_class: bool = True):
    """The documents of corpus rows as a table: row, text, label, prediction, confidence, spread, and with
    `labels` each class's probability (a CSV's columns); with `every_class` False and more than classes.FEW classes,
    only the runner-up class and its probability (a table on the page)."""
    rows = np.asarray(rows, dtype=np.int64)
    table = corpus.df.iloc[rows][["text", "label", "pred", "confidence", "prob_std"]].copy()
    table.insert(0, "row", rows)
    table["confidence"] = table["confidence"].round(3)
    table["prob_std"] = table["prob_std"].round(3)
    if labels:
        probs = corpus.probs[rows]
        if every_class or len(labels) <= classes.FEW:
            for j, lab in enumerate(labels):
                table[f"p({lab})"] = probs[:, j].round(3)
        else:
            second = np.argsort(-probs, axis=1, kind="stable")[:, 1] if len(rows) else np.zeros(0, dtype=int)
            table["runner-up"] = [labels[j] for j in second]
            table["p(runner-up)"] = probs[np.arange(len(rows)), second].round(3)
    return table


def document_table(corpus, rows, labels: list[str] | None = None, max_height: int = 320,
                   limit: int | None = None) -> None:
    """The documents of corpus rows as a table (`table_of`), the first `limit` of them drawn."""
    shown = table_of(corpus, rows[:limit] if limit else rows, labels, every_class=False)
    st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), max_height),
                 column_config={"text": st.column_config.TextColumn("text", width="large"),
                                "prob_std": st.column_config.NumberColumn("spread", help="std of p(pred) over z samples")})
    if limit and len(rows) > limit:
        st.caption(f"Showing the first {limit:,} of {len(rows):,}.")


def csv_download(label: str, corpus, rows, labels: list[str] | None, file_name: str, key: str) -> None:
    """A button that downloads `table_of` these rows as CSV, made when clicked (a selection of a million-row
    map can hold hundreds of thousands of documents: no rerun waits for their CSV). The click reruns nothing: a
    rerun can race the request for the file (Streamlit drops a callable that no finished run refers to), and
    in one CI run the download never came."""
    rows = [int(r) for r in rows]
    st.download_button(label, lambda: table_of(corpus, rows, labels).to_csv(index=False).encode("utf-8"),
                       file_name=file_name, mime="text/csv", key=key, on_click="ignore")


def path_on_map(corpus, labels: list[str], path, name: str, key: str, height: int = 460, lines: bool = True,
                highlight: list[int] | None = None) -> None:
    """A latent path drawn over the corpus' map, each step placed by its nearest documents in latent space."""
    xy = corpus.map.transform(path.z)
    # past classes.FEW classes the map lights the classes the path's chart names (in the colours of its chart and
    # table) and greys the rest: its legend stays short
    focus = [labels[i] for i in figures.path_view(labels, path.probs)[0]] if len(labels) > classes.FEW else None
    fig = figures.latent_map(corpus.df, labels, "pred", height=height, dim=True, highlight=highlight, focus=focus,
                             path={"x": xy[:, 0], "y": xy[:, 1], "labels": path.labels, "texts": path.texts,
                                   "name": name, "lines": lines})
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def path_table(path, labels: list[str], first: str = "A", last: str = "B", names: list[str] | None = None) -> None:
    """Decoded text and predicted class at every step of a latent path, as an HTML table (escaped). Rows
    are named by `names`, or numbered with the two ends marked `first` and `last`."""
    if names is None:
        names = [f"{i}" + (f" ({first})" if i == 0 else f" ({last})" if i == len(path) - 1 else "")
                 for i in range(len(path))]
    colors = figures.path_view(labels, path.probs)[1]  # as the path's chart and map colour them
    rows = []
    for name, text, lab, p in zip(names, path.texts, path.labels, path.probs):
        rows.append(f'<tr><td style="padding:4px 8px; color:#6B7280; white-space:nowrap;">{html.escape(name)}</td>'
                    f'<td style="padding:4px 8px; white-space:nowrap;">{class_badge(lab, labels, f" {p.max():.0%}", colors)}</td>'
                    f'<td style="padding:4px 8px;">{html.escape(text) or "<i>(empty)</i>"}</td></tr>')
    st.markdown('<table style="width:100%; border-collapse:collapse;">' + "".join(rows) + "</table>",
                unsafe_allow_html=True)


def document_panel(explorer, corpus, row: int, key: str, attributions_open: bool = False,
                   suggested: str | None = None) -> None:
    """One corpus document: its text, classes, its label to correct (`suggested`: a class to accept), probabilities,
    reconstruction, nearest neighbours in latent space, and attributions on demand."""
    from app_ui import review

    df, labels = corpus.df, explorer.labels
    doc = df.iloc[row]
    mu = corpus.mu[row]
    st.markdown(f"#### Document #{row}")
    badges = "predicted " + class_badge(doc["pred"], labels, f"  {doc['confidence']:.0%}")
    if doc["label"] is not None and doc["label"] == doc["label"]:
        mark = "✓" if doc["label"] == doc["pred"] else "✗ misclassified"
        badges += " &nbsp; true " + class_badge(doc["label"], labels, f"  {mark}")
    st.markdown(badges, unsafe_allow_html=True)
    quote(str(doc["text"]))
    review.correct_panel(explorer, corpus, row, key, suggested)
    a, b = st.columns([2, 3], gap="large")
    with a:
        st.plotly_chart(figures.probability_bars(labels, list(corpus.probs[row])), width="stretch",
                        config={"displayModeBar": False}, key=f"{key}_doc_probs")
        st.caption(f"KL {doc['kl']:.1f} nats · spread of p(pred) over z samples ±{doc['prob_std']:.1%} · "
                   f"{doc['flip_rate']:.0%} of samples predict another class")
    with b:
        st.markdown("**Decoded from its latent**")
        st.code(cached_decode(explorer, explorer.cache_key, as_key(mu))[0] or "(empty)", language=None, wrap_lines=True)
        idx, dist = corpus.neighbours(mu, k=6, exclude=row)
        st.markdown("**Nearest neighbours in latent space**")
        nb = df.iloc[idx][["text", "label", "pred"]].copy()
        nb.insert(0, "distance", np.round(dist, 2))
        nb.insert(0, "row", idx)
        nb["text"] = [snippet(t, 120) for t in nb["text"]]
        st.dataframe(nb, hide_index=True, width="stretch")
    if st.toggle("Show word attributions", key=f"{key}_attr_{row}", value=attributions_open,
                 help="Integrated Gradients for the predicted class, and for the true class when they differ."):
        targets = [doc["pred"]]
        if doc["label"] in labels and doc["label"] != doc["pred"]:
            targets.append(doc["label"])
        cols = st.columns(len(targets), gap="large")
        for col, lab in zip(cols, targets):
            with col:
                attr = cached_attribution(explorer, explorer.cache_key, str(doc["text"]), labels.index(lab),
                                          "integrated_gradients")
                show_attribution(str(doc["text"]), attr, labels, f"Why {lab}?")
                faithfulness_panel(explorer, str(doc["text"]), labels.index(lab),
                                   {"integrated_gradients": "Integrated Gradients"}, f"{key}_{row}_{lab}",
                                   side_by_side=len(targets) == 1)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_walk(_explorer, model: str, z0: tuple, direction: tuple, distances: tuple):
    return _explorer.walk(np.asarray(z0, dtype=np.float32), np.asarray(direction, dtype=np.float32), distances)


def class_direction_panel(explorer, corpus, mu, current: str, key: str) -> None:
    """Move a latent along a class direction; decode and classify at every step."""
    labels = explorer.labels
    c1, c2, c3 = st.columns([1.3, 1.6, 2])
    default = next((lab for lab in labels if lab != current), labels[0])
    if st.session_state.get(f"{key}_dir_target") not in labels:
        st.session_state[f"{key}_dir_target"] = default
    target = c1.selectbox("Towards", labels, key=f"{key}_dir_target")
    kinds = ["classifier gradient"] + (["class centroids"] if corpus is not None else [])
    kind = c2.radio("Direction", kinds, key=f"{key}_dir_kind", horizontal=True,
                    help="Classifier gradient: w_target − w_current, the fastest way to raise the target's logit. "
                         "Class centroids: from the current class's mean latent to the target's (needs a corpus).")
    st.session_state.setdefault(f"{key}_dir_reach", 6.0)
    reach = c3.slider("Distance (latent units)", 0.5, 12.0, step=0.5, key=f"{key}_dir_reach",
                      help="How far to walk; 9 steps from −1/4 of it (away from the target) to all of it.")
    if target == current:
        st.info(f"The text is already {md(current)}: pick another class to walk towards.")
        return
    src, tgt = labels.index(current), labels.index(target)
    cents = corpus.centroids("pred") if kind == "class centroids" else None
    if cents is not None and (current not in cents or target not in cents):
        st.info("This corpus has no documents predicted as one of these classes; use the classifier gradient.")
        return
    direction = explorer.class_direction(src, tgt, cents)
    distances = tuple(float(d) for d in np.round(np.linspace(-reach / 4, reach, 9), 3))
    path = cached_walk(explorer, explorer.cache_key, as_key(mu)[0], as_key(direction)[0], distances)
    flip = next((i for i, lab in enumerate(path.labels) if lab == target), None)
    st.plotly_chart(figures.path_probabilities(labels, path.probs, "distance along the direction"), width="stretch",
                    key=f"{key}_dir_chart", config={"displayModeBar": False})
    if flip is not None:
        st.caption(f"The prediction becomes {md(target)} at distance {distances[flip]:.2f}.")
    else:
        st.caption(f"Within {reach:.1f} the prediction never becomes {md(target)}: walk further.")
    path_table(path, labels, names=[f"{d:+.2f}" for d in distances])


def faithfulness_panel(explorer, text: str, target: int, methods: dict[str, str], key: str,
                       side_by_side: bool = True) -> None:
    """Can the explanations be trusted? Each method's top words removed (and kept alone), the text classified
    again, beside random words: a small deletion curve, and comprehensiveness and sufficiency in a table (beside
    the curve, or under it in a narrow column)."""
    from vae_core.interpret.faithfulness import FRACTIONS

    labels = explorer.labels
    label = labels[target]
    tests = cached_faithfulness(explorer, explorer.cache_key, text, target, tuple(methods))
    names = {**methods, "random": "random words"}
    left, right = st.columns([1, 1], gap="large") if side_by_side else (st.container(), st.container())
    with left:
        st.plotly_chart(figures.deletion_curves(tests, label, names), width="stretch", key=f"{key}_erasure",
                        config={"displayModeBar": False})
    with right:
        st.dataframe([{"method": names[m], "comprehensiveness": round(e.comprehensiveness, 3),
                       "sufficiency": round(e.sufficiency, 3)} for m, e in tests.items()], hide_index=True,
                     width="stretch", column_config={
                         "method": st.column_config.TextColumn(width=150),
                         "comprehensiveness": st.column_config.NumberColumn(
                             width=135, format="%.3f", help="How far p falls when the top words are removed, averaged over "
                                  f"{', '.join(f'{f:.0%}' for f in FRACTIONS)} of the words (AOPC). Higher: the words "
                                  "the method picked are the ones the model used."),
                         "sufficiency": st.column_config.NumberColumn(
                             width=100, format="%.3f", help="How far p falls when only the top words are kept (AOPC). "
                                                           "Lower: those words alone are enough for the decision.")})
    rand = tests["random"]
    best = max((m for m in tests if m != "random"), key=lambda m: tests[m].comprehensiveness)
    i = FRACTIONS.index(0.2) if 0.2 in FRACTIONS else 0
    e = tests[best]
    gap = e.comprehensiveness - rand.comprehensiveness
    verdict = ("the explanations point at the words the decision rests on" if gap > 0.1 else
               "removing the marked words changes little more than removing random ones: read these explanations "
               "with care" if gap < 0.03 else "the explanations are only somewhat better than random words")
    st.caption(f"Removing the top {FRACTIONS[i]:.0%} of the words ({e.words_erased[i]} of {e.words} words) by {md(names[best])} takes p({md(label)}) from {e.prob:.1%} to {e.removed_prob[i]:.1%}; "
               f"removing as many random words, to {rand.removed_prob[i]:.1%}. So {verdict}.")


def report_panel(explorer, corpus) -> None:
    """Build the offline report on the sidebar's model and corpus, with progress, and offer it as a download."""
    from app_ui.report import app_training_file, build_report, file_name

    st.caption("One HTML file for people who will not run this app: the model's summary, accuracy against a TF-IDF "
               "baseline, the confusion matrix, calibration, the latent map with its regions, the error slices and "
               "suspect labels, three explained documents with their faithfulness, and a decoded interpolation. It "
               "opens in any browser with no server and no network.")
    if corpus is None:
        st.info("Pick a corpus in the sidebar: the report is on the model and a corpus.")
        return
    name = str(corpus.meta.get("source") or "corpus")
    key = f"_report:{explorer.cache_key}:{corpus.content_key}"
    if key not in st.session_state:
        slot = st.empty()
        if not slot.button("Build the report", icon=":material/summarize:", key="report_build",
                           help="Takes up to a minute for a few thousand documents."):
            return
        slot.empty()
        with st.status("Building the report…", expanded=True) as status:
            bar = st.progress(0.0, text="starting")
            try:
                page = build_report(explorer, corpus, name, None, app_training_file(explorer),
                                    progress=lambda step, done: bar.progress(min(max(done, 0.0), 1.0), text=step))
            except ValueError as e:
                status.update(label="The report could not be built", state="error")
                st.warning(str(e))
                return
            status.update(label="Report built", state="complete", expanded=False)
        st.session_state[key] = page.encode("utf-8")
    data = st.session_state[key]
    st.download_button(f"Download report ({len(data) / 1e6:.1f} MB)", data=data, mime="text/html",
                       file_name=file_name(explorer.name, name), icon=":material/download:", key="report_download",
                       on_click="ignore")
