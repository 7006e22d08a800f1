"""The explorer's latency figures on the default model, measured two ways in one run: the library calls
behind each view (in this process, median of repeats), and end to end in Debian's Chromium against
`streamlit run app.py` (process start to a usable page, typing to probabilities, page switches).
Prints a table and writes JSON.

    python benchmarks/app_figures.py [--out benchmarks/app_figures.json] [--skip-browser]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

TEXTS = [  # of alternating classes (the page opens on a Business example)
    "Roger Federer beat Andy Roddick to win Wimbledon for the third time.",
    "Oil prices climbed to a record above $50 a barrel as traders worried about supplies.",
    "Microsoft released a security update for Windows XP that fixes a flaw in Internet Explorer.",
    "Iran said it would resume talks with European envoys over its nuclear programme.",
    "The Red Sox beat the Yankees 5-3 to take the lead in the American League East.",
]


# the predicted class (the metric) shows a new value from the current run
NEW_CLASS_ON_SCREEN = ("([b]) => { const m = document.querySelector('[data-testid=\"stMetricValue\"]');"
                       " return m && m.innerText !== b && !m.closest('[data-stale=\"true\"]'); }")


def median_ms(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 1)


def library_figures(model_dir: Path) -> dict:
    import numpy as np

    from app_ui import figures
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer

    t0 = time.perf_counter()
    ex = Explorer.load(model_dir)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    corpus = CorpusIndex.load(model_dir / "index" / "ag_news_dev.parquet")
    corpus_s = time.perf_counter() - t0
    text = TEXTS[1]
    pred = ex.classify(text, reconstruct=False)
    a, b = corpus.mu[0], corpus.mu[1]
    return {
        "model_load_s": round(load_s, 2),
        "corpus_load_s": round(corpus_s, 2),
        "probabilities_ms": median_ms(lambda: ex.classify(text, reconstruct=False), 20),
        "probabilities_and_reconstruction_ms": median_ms(lambda: ex.classify(text), 10),
        "uncertainty_64_samples_ms": median_ms(lambda: ex.uncertainty(pred.mu, pred.logvar, 64), 20),
        "attribution_ig_ms": median_ms(lambda: ex.attribute(text, 0, "integrated_gradients"), 5),
        "attribution_occlusion_ms": median_ms(lambda: ex.attribute(text, 0, "occlusion"), 5),
        "interpolation_10_steps_ms": median_ms(lambda: ex.interpolate(a, b, 10, "spherical"), 5),
        "landscape_60x60_ms": median_ms(lambda: corpus.landscape(ex.probs, 60), 3),
        "map_figure_build_ms": median_ms(lambda: figures.latent_map(corpus.df, ex.labels, "label"), 3),
        "neighbours_ms": median_ms(lambda: corpus.neighbours(np.asarray(pred.mu), 8), 20),
        "documents": len(corpus),
    }


def browser_figures() -> dict:
    from playwright.sync_api import sync_playwright

    from app_server import free_port, launch_chromium, settle, start_app, stop, wait_healthy

    port = free_port()
    t0 = time.perf_counter()
    proc = start_app(port)
    res: dict = {}
    try:
        res["process_start_to_health_s"] = round(wait_healthy(port), 2)
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"http://127.0.0.1:{port}")
            page.locator("[data-testid='stMetricValue']").first.wait_for(timeout=120_000)
            res["cold_start_to_probabilities_s"] = round(time.perf_counter() - t0, 2)
            res["cold_start_to_page_complete_s"] = round(settle(page, "Decoded from the latent", 120_000) - t0, 2)

            box = page.get_by_label("Text", exact=True)

            def send(text: str) -> float:
                """Type `text`, Ctrl+Enter, wait for the new class on screen; returns when it was sent. Texts in
                a row are of different classes: the predicted class (the metric) changes when the new
                probabilities are drawn, before the attributions are computed."""
                before = page.locator("[data-testid='stMetricValue']").first.inner_text()
                box.fill(text)
                t1 = time.perf_counter()
                box.press("Control+Enter")
                page.wait_for_function(NEW_CLASS_ON_SCREEN, arg=[before], timeout=60_000)
                return t1

            typed, complete = [], []
            for text in TEXTS:
                t1 = send(text)
                typed.append(time.perf_counter() - t1)
                complete.append(settle(page, "Decoded from the latent") - t1)
            res["typing_to_probabilities_ms"] = round(statistics.median(typed) * 1000)
            res["typing_to_probabilities_each_ms"] = [round(t * 1000) for t in typed]
            res["typing_to_page_complete_incl_attributions_ms"] = round(statistics.median(complete) * 1000)
            # Typing the next text as soon as the probabilities of the last one are on screen, while its
            # attributions, decoding and class-direction walk are still being computed: the new run shares the
            # model (and the 2 cores) with what is left of the old one.
            hurried = []
            for text in list(reversed(TEXTS))[1:]:
                t1 = send(text)
                hurried.append(time.perf_counter() - t1)
            settle(page, "Decoded from the latent")
            res["typing_while_the_last_text_is_still_computed_ms"] = round(statistics.median(hurried) * 1000)
            res["typing_while_the_last_text_is_still_computed_each_ms"] = [round(t * 1000) for t in hurried]

            t1 = time.perf_counter()
            page.get_by_role("link", name="Latent map").click()
            page.locator(".js-plotly-plot canvas").first.wait_for(timeout=60_000)
            res["map_page_drawn_ms"] = round((time.perf_counter() - t1) * 1000)
            res["map_page_run_over_ms"] = round((settle(page, "documents · projection") - t1) * 1000)

            t1 = time.perf_counter()
            page.get_by_role("link", name="Interpolate").click()
            res["interpolate_page_default_8_steps_ms"] = round((settle(page, "The path on the map") - t1) * 1000)
            slider = page.get_by_role("slider").first
            slider.focus()
            slider.press("ArrowRight")  # 8 -> 9 steps, untimed: one key press is one run
            page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot')).some("
                                   "g => g.data && g.data[0] && g.data[0].x && g.data[0].x.length === 9)",
                                   timeout=60_000)
            settle(page, "The path on the map")
            t1 = time.perf_counter()
            slider.press("ArrowRight")  # 9 -> 10 steps, timed
            # decoded when the chart of probabilities along the path has 10 points (drawn after the decoding)
            page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot')).some("
                                   "g => g.data && g.data[0] && g.data[0].x && g.data[0].x.length === 10)",
                                   timeout=60_000)
            res["interpolate_10_steps_ms"] = round((time.perf_counter() - t1) * 1000)  # decoded, charted
            # the rest of the page: the decoded texts' table, the path on the map, the class-direction panel
            res["interpolate_10_steps_run_over_ms"] = round((settle(page, "The path on the map") - t1) * 1000)
            browser.close()
    finally:
        stop(proc)
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--out", default=str(REPO / "benchmarks" / "app_figures.json"))
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--skip-library", action="store_true")
    args = p.parse_args()
    import torch

    torch.set_num_threads(2)
    res = {} if args.skip_library else {"library": library_figures(Path(args.model))}
    if not args.skip_browser:
        res["browser"] = browser_figures()
    for part, figs in res.items():
        print(f"[{part}]")
        for k, v in figs.items():
            print(f"  {k:<46} {v}")
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
