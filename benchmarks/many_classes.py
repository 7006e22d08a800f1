"""Issue 39: is every view readable at this model's number of classes? The app is started on a model (`--models-dir`,
or the bundled one), each page is opened in Chromium at 1400 x 900 and measured in the drawn page (the figures of
scripts/app_server.readability: the longest legend, the closest two colours a legend gives classes, the tallest
figure, the map's plot area as a share of its figure, the narrowest heatmap cell), with a screenshot of the first
screen and of the whole page; then the offline report of the same model and corpus, opened from its file, is
measured the same way. Prints a table and writes benchmarks/many_classes.json (one entry a --tag).

    python benchmarks/many_classes.py --tag ag_news                      # the bundled model
    python benchmarks/many_classes.py --tag banking77 --models-dir runs/banking77 --shots docs/screenshots/issue-39/banking77
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "scripts")]

from app_server import figures_on, free_port, launch_chromium, readability, settle, start_app, stop, wait_healthy  # noqa: E402

PAGES = (("classify", "", "Decoded from the latent"), ("latent_map", "latent_map", "documents · projection"),
         ("interpolate", "interpolate", "The path on the map"), ("debug", "debug", "Find the counterfactual"),
         ("samples", "samples", "Share of prior samples"), ("model", "model", "A report for stakeholders"),
         ("compare", "compare", "The model from the sidebar"), ("your_corpus", "upload", "Upload"))


def measure(tag: str, models_dir: str | None, shots: Path | None, text: str | None) -> dict:
    from playwright.sync_api import sync_playwright

    from app_ui.report import build_report
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer

    port = free_port()
    proc = start_app(port, args=["--models-dir", models_dir] if models_dir else None)
    out: dict = {"pages": {}}
    try:
        wait_healthy(port)
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            for name, path, ready in PAGES:
                t0 = time.time()
                page.goto(f"http://127.0.0.1:{port}/{path}")
                if name == "classify" and text:
                    settle(page, ready, timeout=180_000)
                    box = page.get_by_label("Text", exact=True)
                    box.fill(text)
                    box.press("Control+Enter")
                    page.wait_for_timeout(1500)
                settle(page, ready, timeout=180_000)
                body = page.inner_text("body")
                figs = figures_on(page)
                seen = readability(figs, model_labels)
                seen.update(seconds=round(time.time() - t0, 1), figures=len(figs),
                            exceptions=page.locator("[data-testid='stException']").count(),
                            unexpected=body.count("unexpected problem"))
                if name == "debug":
                    seen["pairs_listed"] = "Most-confused pairs" in body
                    seen["pairs_described"] = "What separates" in body
                out["pages"][name] = seen
                print(f"{tag:>10} {name:<12} {json.dumps(seen)}", flush=True)
                if shots:
                    shots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shots / f"{name}.png"))
                    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
                    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 8000)})
                    page.wait_for_timeout(2500)
                    page.screenshot(path=str(shots / f"{name}_whole.png"))
                    page.set_viewport_size({"width": 1400, "height": 900})
            out["page_errors"] = errors
            # the offline report of the same model and corpus, opened from its file
            folder = Path(model_folder)
            index = sorted((folder / "index").glob("*.parquet"))[0]
            t0 = time.time()
            html = build_report(Explorer.load(folder), CorpusIndex.load(index), index.stem)
            report = (shots or Path("/tmp")) / f"report_{tag}.html"
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(html, encoding="utf-8")
            page.goto(report.resolve().as_uri())
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3",
                                   timeout=180_000)
            page.wait_for_timeout(1500)
            seen = readability(figures_on(page), model_labels)
            seen.update(seconds=round(time.time() - t0, 1), pairs_described="boundary:</b>" in html)
            out["pages"]["report"] = seen
            print(f"{tag:>10} {'report':<12} {json.dumps(seen)}", flush=True)
            if shots:
                page.screenshot(path=str(shots / "report.png"), full_page=True)
                report.unlink()
            browser.close()
    finally:
        log = stop(proc)
    out["tracebacks"] = log.count("Traceback")
    return out


def pairs_in_words(model_folder: str, top: int = 3) -> list[dict]:
    """The model's most-confused pairs on its (first) corpus as Debug describes them."""
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer
    from vae_core.interpret.groups import confused_pairs, pair_boundaries

    folder = Path(model_folder)
    corpus = CorpusIndex.load(sorted((folder / "index").glob("*.parquet"))[0])
    pairs = confused_pairs(corpus, top)
    found = pair_boundaries(Explorer.load(folder), corpus, [(t, p) for t, p, _, _ in pairs])
    return [{"true": b.true_label, "pred": b.pred_label, "documents": b.count, "share": round(b.share, 3),
             "decoded": dict(zip(("true centre", "boundary", "predicted centre"), b.texts)), "read_as": b.read_as,
             "words_true": b.words_true, "words_pred": b.words_pred} for b in found]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--models-dir", help="a training run's folder (its model is opened); the bundled model without it")
    ap.add_argument("--shots", type=Path, help="folder for the screenshots")
    ap.add_argument("--text", help="a text typed on Classify (its example otherwise)")
    ap.add_argument("--pairs-only", action="store_true", help="only the most-confused pairs in words, added to the tag")
    a = ap.parse_args()
    model_folder = str(Path(a.models_dir) / "model") if a.models_dir else str(HERE.parent / "assets" / "models" / "ag_news_vae")
    model_labels = json.loads((Path(model_folder) / "config.json").read_text())["labels"]
    path = HERE / "many_classes.json"
    every = json.loads(path.read_text()) if path.exists() else {}
    result = every.get(a.tag, {}) if a.pairs_only else measure(a.tag, a.models_dir, a.shots, a.text)
    result.update(classes=len(model_labels), model=model_folder, pairs=pairs_in_words(model_folder))
    for pair in result["pairs"]:
        print(json.dumps(pair))
    every[a.tag] = result
    path.write_text(json.dumps(every, indent=1) + "\n")
    print(f"written to {path}")
