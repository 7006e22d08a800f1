"""Start the Streamlit app on a free port and drive Debian's Chromium: shared by the browser tests and
the app benchmarks."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, env: dict | None = None, args: list[str] | None = None) -> subprocess.Popen:
    """`streamlit run app.py` in its own process group (so that stop() ends all of it)."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    if args:
        cmd += ["--", *args]
    return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_healthy(port: int, timeout: float = 120.0) -> float:
    """Seconds until /_stcore/health answers."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return time.time() - t0
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"the app did not answer on port {port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> str:
    """End the app and return what it printed."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    except ProcessLookupError:
        out, _ = proc.communicate()
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out or ""


def launch_chromium(playwright):
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError("Debian's Chromium is missing: `apt-get install chromium` (scripts/test.sh does it).")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def app_page(path: str = "", args: list[str] | None = None, width: int = 1280, height: int = 900):
    """`streamlit run app.py [-- args]` on a free port, answering its health check, and a Chromium page
    open at `path` (e.g. "latent_map"); the browser and the app are stopped on the way out."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = start_app(port, args=args)
    try:
        wait_healthy(port)
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"http://127.0.0.1:{port}/{path}")
                yield page
            finally:
                browser.close()
    finally:
        stop(proc)


# The run is over when Streamlit's app root says its script is not running (data-test-script-state; the
# running indicator is not a signal: it never showed during the runs measured) and no element on screen is
# still the previous run's (data-stale; hidden stale elements do not count, Streamlit keeps some hidden across
# runs). Checked three times 250 ms apart, so that the gap between two runs is not taken for the end.
_SHOWN = ("!document.querySelector('[data-testid=\"stStatusWidget\"]') && !Array.from("
          "document.querySelectorAll('[data-stale=\"true\"]')).some(e => e.offsetParent !== null)")
_RUN_OVER = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
             " return !!app && app.dataset.testScriptState !== 'running' && " + _SHOWN + "; }")


def settle(page, text: str, timeout: float = 90_000, whole_run: bool = True) -> float:
    """Wait until `text` is on the page and the script run has finished; returns the perf_counter() time at
    which it was first seen finished. With `whole_run=False`, until nothing shown is stale any more (the
    run may still be computing what comes below: the soak's many sessions move on like that)."""
    page.get_by_text(text).first.wait_for(timeout=timeout)
    check = _RUN_OVER if whole_run else "() => " + _SHOWN
    while True:
        page.wait_for_function(check, timeout=timeout)
        over = time.perf_counter()
        page.wait_for_timeout(250)
        if page.evaluate(check):
            page.wait_for_timeout(250)
            if page.evaluate(check):
                return over


def submit(page, box, text: str, ready: str, timeout: float = 180_000) -> None:
    """Type `text` into `box`, send it with Ctrl+Enter, and wait like a reader for its result: until the server
    has started the run (the running indicator shows; a fast run may finish before it is seen) and finished it.
    (Switching pages within a split second of Ctrl+Enter, before the server has the new value, can drop the
    edit inside Streamlit's frontend: no page code runs in between.)"""
    box.fill(text)
    box.press("Control+Enter")
    try:
        page.wait_for_selector("[data-testid='stStatusWidget']", timeout=5_000)
    except Exception:  # playwright's TimeoutError: the run was over before the indicator could be seen
        pass
    settle(page, ready, timeout)


def screen_point(plot, x: float, y: float) -> tuple[float, float]:
    """Where the map position (x, y) is on the page, from the plotly figure's own axes."""
    return tuple(plot.evaluate(
        "(el, [x, y]) => { const L = el._fullLayout, r = el.getBoundingClientRect();"
        " return [r.left + L._size.l + L.xaxis.d2p(x), r.top + L._size.t + L.yaxis.d2p(y)]; }", [x, y]))


def _free_box(plot, half: int, near: tuple[float, float] | None) -> tuple[float, float]:
    """The centre of a 2*half px square at `near` (page pixels; default the middle of the map), or the nearest
    place around it that covers no region name (a drag that starts on a name does not draw a lasso)."""
    area = plot.locator(".nsewdrag").first.bounding_box()
    names = [b for b in (a.bounding_box() for a in plot.locator(".annotation").all()) if b]
    cx, cy = near or (area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    for dx, dy in [(0, 0)] + [(r * i, r * j) for r in (30, 60, 120, 180) for i, j in
                              ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))]:
        x, y = cx + dx, cy + dy
        if not any(b["x"] - half < x < b["x"] + b["width"] + half and b["y"] - half < y < b["y"] + b["height"] + half
                   for b in names):
            return x, y
    return cx, cy


def lasso(page, plot, half: int = 40, near: tuple[float, float] | None = None) -> float:
    """Draw a square lasso (2*half px) on a plotly map, near the map position `near` (default: the middle of the
    map) and off its region names; returns the perf_counter() time at which the mouse was let go."""
    cx, cy = _free_box(plot, half, screen_point(plot, *near) if near else None)
    page.mouse.move(cx - half, cy - half)
    page.mouse.down()
    for x, y in ((cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half), (cx - half, cy - half)):
        page.mouse.move(x, y, steps=5)
    t0 = time.perf_counter()
    page.mouse.up()
    return t0


# What a reader meets in each plotly figure on the page (issue 39's checks): its size, the entries of its legend
# and their colours, the share of the figure its plot area takes, and a heatmap's cell width in pixels (the
# cells the axes show, at the size drawn).
FIGURES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(g => g.getBoundingClientRect().width > 0)
  .map(g => {
    const r = g.getBoundingClientRect(), drag = g.querySelector('.nsewdrag');
    const pr = drag ? drag.getBoundingClientRect() : null;
    const entries = [...g.querySelectorAll('.legend .traces')];
    const f = {height: r.height, width: r.width, legend: entries.map(e => e.textContent.trim()),
               colors: entries.map(e => { const p = e.querySelector('.legendpoints path, .legendpoints rect');
                                          return p ? (p.style.fill || p.getAttribute('fill')) : null; }),
               plot_share: pr ? pr.width * pr.height / (r.width * r.height) : null, cell_px: null,
               text: [...g.querySelectorAll('.main-svg text')].map(t => t.textContent).join(' | ').slice(0, 400)};
    const hm = (g.data || []).find(t => t.type === 'heatmap' && t.name !== 'landscape');
    if (hm && pr) { const xr = g._fullLayout.xaxis.range; f.cell_px = pr.width / Math.abs(xr[1] - xr[0]); }
    return f; })"""


def figures_on(page) -> list[dict]:
    """FIGURES_JS on a page: one dict a drawn plotly figure."""
    return page.evaluate(FIGURES_JS)


def readability(figs: list[dict], labels) -> dict:
    """Issue 39's figures of one page's plotly figures (`figures_on`): the most entries a legend names; the
    smallest CIE76 distance between two colours of a legend's entries that name classes (a class, a family "… +n"
    or "… (n)", or "other (n classes)"); the tallest figure (px); the first figure's plot area as a share of it;
    the narrowest heatmap cell (px), None without a heatmap."""
    import re

    from app_ui.classes import build_style, lab_distance

    labels = list(labels)
    families = set(build_style(sorted(labels)).family_names) if len(labels) > 20 else set()

    def names_classes(entry: str) -> bool:
        return (entry in labels or entry.startswith("other (") or entry in families
                or bool(re.search(r"(\+\d+|\(\d+\))$", entry)))

    def hexed(rgb: str) -> str:
        return "#" + "".join(f"{int(v):02X}" for v in re.findall(r"\d+", rgb)[:3])

    closest = None
    for f in figs:
        colors = [hexed(c) for e, c in zip(f["legend"], f["colors"]) if c and c.startswith("rgb") and names_classes(e)]
        for i, a in enumerate(colors):
            for b in colors[i + 1:]:
                d = lab_distance(a, b)
                closest = d if closest is None else min(closest, d)
    cells = [f["cell_px"] for f in figs if f["cell_px"]]
    return {"legend_max": max((len(f["legend"]) for f in figs), default=0),
            "legend_closest_colours": None if closest is None else round(closest, 1),
            "tallest_px": round(max((f["height"] for f in figs), default=0)),
            "first_plot_share": round(figs[0]["plot_share"], 3) if figs and figs[0]["plot_share"] else None,
            "narrowest_cell_px": round(min(cells), 1) if cells else None}
