"""Why the map's density image is numpy (app_ui/density.py) and not datashader: the same image (counts per
class, 800 pixels wide, shaded and spread by one pixel) of an index's map with each, three calls each in one
fresh process. datashader is not a requirement; install it beside the project to run this:

    pip install --target /tmp/dslib datashader
    PYTHONPATH=.:/tmp/dslib python benchmarks/density_choice.py --index FILE.parquet [--out benchmarks/density_choice.json]

(FILE: e.g. the 1,000,000 rows of `benchmarks/scale_map.py --rows 1000000 --index FILE`.)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--index", required=True)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "density_choice.json"))
    args = p.parse_args()
    import numpy as np
    import pandas as pd

    from app_ui import density, figures
    from vae_core.corpus_index import CorpusIndex

    corpus = CorpusIndex.load(args.index)
    xy, labels = corpus.xy, corpus.labels
    view = density.extent(xy, 0.1)
    colors = figures.class_colors(labels)
    out: dict = {"rows": len(xy), "index": Path(args.index).name}  # its name, not where this machine keeps it
    t0 = time.perf_counter()
    import datashader as ds
    import datashader.transfer_functions as tf

    out["datashader_import_s"] = round(time.perf_counter() - t0, 2)
    frame = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "pred": pd.Categorical(corpus.df["pred"], categories=labels)})

    def with_datashader():
        canvas = ds.Canvas(plot_width=density.WIDTH, plot_height=density.shape_of(view)[0], x_range=view[:2],
                           y_range=view[2:])
        agg = canvas.points(frame, "x", "y", ds.count_cat("pred"))
        return tf.spread(tf.shade(agg, color_key=[colors[lab] for lab in labels], how="log", min_alpha=60), px=1).to_pil()

    codes = pd.Categorical(corpus.df["pred"], categories=labels).codes.astype(np.int64)
    rgb = np.array([figures.hex_to_rgb(colors[lab]) for lab in labels], np.float32)
    for name, draw in (("datashader", with_datashader), ("numpy", lambda: density.categorical(xy, codes, rgb, view))):
        out[name] = []
        for _ in range(3):
            t0 = time.perf_counter()
            draw()
            out[name].append(round(time.perf_counter() - t0, 3))
        print(f"{name}: " + ", ".join(f"{s:.3f} s" for s in out[name]) + " (first call first)")
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
