"""Concurrency soak: N real browser sessions (Playwright contexts) use one running app for a while,
each with its own texts: classify, open the map, interpolate. Checks that every session sees only its
own text and results, counts errors, and follows the server's memory after a warm-up.

    python scripts/soak.py [--sessions 10] [--minutes 10] [--out soak.json]

Prints a summary and writes JSON; exits 1 when a session saw an error or another session's text, or
memory grew by 10% or more after warm-up.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from app_server import free_port, launch_chromium, settle, start_app, stop, submit, wait_healthy  # noqa: E402

TOPICS = [
    "the striker scored twice as the home side won the cup final",
    "oil prices rose as traders worried about supplies from the gulf",
    "the new chip doubles battery life for laptops and phones",
    "rebels and the army agreed to a ceasefire after talks in the capital",
    "the central bank raised interest rates for the third time this year",
    "a spacecraft sent back the first pictures of the comet's surface",
    "the coach was sacked after a run of five straight defeats",
    "shares of the software maker fell after it cut its forecast",
    "the election result was disputed by the opposition party",
    "researchers found a flaw in the web browser used by millions",
]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the streamlit server), in MB."""
    import subprocess

    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid), "-p", str(pid)], capture_output=True, text=True).stdout
    return sum(int(v) for v in out.split()) / 1024


def memory_windows(memory: list[tuple[int, int]], warm_s: float) -> dict:
    """Floor, median and peak of the first and last thirds of the samples after warm-up, and their growth."""
    import statistics

    after = [mb for t, mb in memory if t >= warm_s]
    if len(after) < 6:
        return {}
    third = len(after) // 3
    first, last = after[:third], after[-third:]
    out = {}
    for name, fn in (("floor", min), ("median", statistics.median), ("peak", max)):
        a, b = fn(first), fn(last)
        out[f"{name}_first_third_mb"], out[f"{name}_last_third_mb"] = round(a), round(b)
        out[f"{name}_growth"] = round((b - a) / a, 4)
    return out


def session(url: str, k: int, deadline: float, report: dict, lock: threading.Lock, min_rounds: int = 0,
            hard_deadline: float | None = None) -> None:
    """One browser session doing rounds until `deadline`, and past it until it has done `min_rounds` (but
    never past `hard_deadline`): a busy machine makes rounds slower, not fewer than asked."""
    from playwright.sync_api import sync_playwright

    stats = {"rounds": 0, "errors": [], "foreign": 0, "seen": []}

    def foreign(where: str, what: str) -> None:
        stats["foreign"] += 1
        stats["seen"].append(f"round {stats['rounds']} {where}: {what[:200]}")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.on("pageerror", lambda e: stats["errors"].append(str(e)))
        try:
            page.goto(url)
            settle(page, "Decoded from the latent", 180_000, whole_run=False)
            r = 0
            while time.time() < deadline or (r < min_rounds and time.time() < (hard_deadline or deadline)):
                mine = f"session {k} round {r}: {TOPICS[(k + r) % len(TOPICS)]}"
                submit(page, page.get_by_label("Text", exact=True), mine, "Decoded from the latent")
                if (now := page.get_by_label("Text", exact=True).input_value()) != mine:
                    foreign("text box after classify", now)
                body = page.inner_text("body")
                for o in (f"session {j} round" for j in range(64) if j != k):
                    if o in body:
                        i = body.index(o)
                        foreign("page after classify", body[max(0, i - 80):i + 80])
                if "Traceback" in body or page.locator("[data-testid='stException']").count():
                    stats["errors"].append(f"round {r}: exception on Classify")
                page.get_by_role("link", name="Latent map").click()
                settle(page, "documents · projection", 180_000, whole_run=False)
                page.get_by_role("link", name="Interpolate").click()
                settle(page, "Decoded text at every step", 180_000, whole_run=False)
                page.get_by_role("link", name="Classify").click()
                settle(page, "Decoded from the latent", 180_000, whole_run=False)
                if (now := page.get_by_label("Text", exact=True).input_value()) != mine:  # still this session's text
                    foreign("text box back on Classify", now)
                r += 1
                stats["rounds"] = r
        except Exception as e:  # a timeout or a crash counts as an error of this session
            stats["errors"].append(f"{type(e).__name__}: {e}"[:300])
        browser.close()
    with lock:
        report[k] = stats


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--warmup-minutes", type=float, default=None, help="default: a fifth of the run")
    ap.add_argument("--min-rounds", type=int, default=0,
                    help="each session goes on past --minutes until it has done this many rounds (at most 10 min more)")
    ap.add_argument("--out", default="soak.json")
    args = ap.parse_args()
    port = free_port()
    proc = start_app(port)
    try:
        wait_healthy(port)
        url = f"http://127.0.0.1:{port}"
        start = time.time()
        deadline = start + args.minutes * 60
        warm = start + 60 * (args.warmup_minutes if args.warmup_minutes is not None else args.minutes / 5)
        report: dict = {}
        lock = threading.Lock()
        threads = [threading.Thread(target=session, args=(url, k, deadline, report, lock, args.min_rounds,
                                                          deadline + 600)) for k in range(args.sessions)]
        for t in threads:
            t.start()
            time.sleep(1.0)
        memory, after_warmup = [], None
        while any(t.is_alive() for t in threads):
            m = rss_mb(proc.pid)
            memory.append((round(time.time() - start), round(m)))
            if after_warmup is None and time.time() >= warm:
                after_warmup = m
            time.sleep(5)
        end_mb = rss_mb(proc.pid)
    finally:
        log = stop(proc)
    growth = (end_mb - after_warmup) / after_warmup if after_warmup else 0.0
    windows = memory_windows(memory, warm - start)
    errors = sum(len(s["errors"]) for s in report.values())
    foreign = sum(s["foreign"] for s in report.values())
    res = {"sessions": args.sessions, "minutes": args.minutes, "rounds": sum(s["rounds"] for s in report.values()),
           "errors": errors, "foreign_text_seen": foreign, "memory_after_warmup_mb": round(after_warmup or 0),
           "memory_end_mb": round(end_mb), "memory_growth_after_warmup": round(growth, 4), **windows,
           "server_tracebacks": log.count("Traceback"), "per_session": report, "memory_trace": memory}
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: v for k, v in res.items() if k not in ("per_session", "memory_trace")}, indent=2))
    # Memory: the server's RSS is a sawtooth (batches of decoding and attributions come and go), so single
    # samples at warm-up and at the end say little; the first and last thirds after warm-up are compared on
    # their floor (what stays resident: a leak lifts it) and their peak.
    mem_ok = windows["floor_growth"] < 0.10 and windows["peak_growth"] < 0.10 if windows else growth < 0.10
    ok = errors == 0 and foreign == 0 and mem_ok and res["server_tracebacks"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
