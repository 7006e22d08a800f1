"""Upload a corpus in the app and time it: Chromium against `streamlit run app.py`, page "Your corpus",
a CSV of N documents (AG News train then dev, from assets/data), UMAP map. Measures the time from the click
on "Encode the corpus" until the corpus is ready, checks that the progress bar was shown on the way, and
then opens the map of the uploaded corpus. Prints the figures and writes JSON.

    python benchmarks/upload_figures.py [--rows 10000] [--projection umap|pca]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from app_server import app_page, settle  # noqa: E402


def main() -> None:
    import pandas as pd

    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--projection", choices=["umap", "pca"], default="umap")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "upload_figures.json"))
    a = p.parse_args()
    data = REPO / "assets" / "data" / "ag_news"
    df = pd.concat([pd.read_csv(data / "train.csv"), pd.read_csv(data / "dev.csv")], ignore_index=True)
    if len(df) < a.rows:
        raise SystemExit(f"only {len(df)} documents in {data}")
    res: dict = {"rows": a.rows, "projection": a.projection}
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / f"upload_{a.rows}.csv"
        df.iloc[: a.rows][["text", "label"]].to_csv(csv, index=False)
        res["file_mb"] = round(csv.stat().st_size / 1e6, 2)
        with app_page("upload") as page:
            settle(page, "Upload a file to begin", 120_000)
            t0 = time.perf_counter()
            page.locator("input[type=file]").set_input_files(str(csv))
            settle(page, "Encode the corpus", 120_000)
            res["file_read_s"] = round(time.perf_counter() - t0, 2)
            if a.projection == "pca":
                page.get_by_text("PCA (fast)", exact=True).click()
            t0 = time.perf_counter()
            page.get_by_role("button", name="Encode the corpus").click()
            page.locator("[data-testid='stProgress']").first.wait_for(timeout=60_000)
            res["progress_bar_shown_after_s"] = round(time.perf_counter() - t0, 2)
            settle(page, "is ready", 600_000)
            res["encode_and_map_s"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            page.get_by_role("link", name="Latent map", exact=True).click()
            settle(page, "documents · projection", 120_000)
            page.locator(".js-plotly-plot canvas").first.wait_for(timeout=60_000)
            res["map_of_upload_drawn_s"] = round(time.perf_counter() - t0, 2)
            res["map_caption"] = page.get_by_text("documents · projection").first.inner_text()[:120]
    for k, v in res.items():
        print(f"{k:<28} {v}")
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
