"""Issue 41 in a real browser: on the bundled model's dev corpus a click on Accept suggestion changes that row in the
log; the decision is there in a second browser session and after the app restarts; two sessions correcting
different rows at once keep both; the export has the label replaced and the original kept."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from conftest import DEFAULT_MODEL, REPO

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def open_suspects(context, url: str):
    from app_server import settle

    page = context.new_page()
    page.goto(f"{url}/debug")
    settle(page, "Find the counterfactual", timeout=180_000)
    page.get_by_text("Suspect labels", exact=True).click()
    settle(page, "The evidence.", timeout=180_000)
    return page


def first_suspect(page) -> tuple[int, str]:
    """The row and suggested class of the suspect the page has open (its heading says 'Row N: ..., probably X')."""
    heading = page.get_by_text(re.compile(r"^Row \d+: labelled")).first.inner_text()
    m = re.match(r"Row (\d+): labelled .*, probably (.*)$", heading)
    return int(m.group(1)), m.group(2)


def log_rows(folder) -> dict[int, dict]:
    lines = [json.loads(line) for f in folder.rglob("*.corrections.jsonl") for line in f.read_text().splitlines()]
    return {x["row"]: x for x in lines if x["status"] != "undo"}


def test_accept_persists_across_sessions_and_restarts_and_two_sessions_keep_both(browser, tmp_path):
    from app_server import free_port, settle, start_app, stop, wait_healthy

    user = tmp_path / "user"
    env = {"VAE_DATA_DIR": str(user)}
    port = free_port()
    proc = start_app(port, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(port)
        a = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = open_suspects(a, url)
        row, suggested = first_suspect(page)
        page.get_by_role("button", name=f"Accept suggestion: {suggested}").click()
        settle(page, "labels reviewed", timeout=120_000)
        got = log_rows(user)
        assert got[row]["new"] == suggested and got[row]["status"] == "relabel" and got[row]["view"] == "debug/suspects"

        # a second session sees it: the row has left its suspect list, and the next suspect is open there
        b = browser.new_context(viewport={"width": 1400, "height": 1000})
        other = open_suspects(b, url)
        assert "1 labels reviewed" in other.inner_text("body")
        row_b, suggested_b = first_suspect(other)
        assert row_b != row

        # two sessions at once, different rows: A marks the document its confusion cell opens ambiguous while B
        # accepts its suspect's suggestion
        page.goto(f"{url}/debug")
        settle(page, "Find the counterfactual", timeout=180_000)
        row_a = int(page.get_by_text(re.compile(r"^Document #\d+$")).first.inner_text().split("#")[1])
        assert row_a not in (row, row_b)
        page.get_by_role("button", name="Ambiguous", exact=True).click(no_wait_after=True)
        other.get_by_role("button", name=f"Accept suggestion: {suggested_b}").click(no_wait_after=True)
        settle(page, "labels reviewed", timeout=120_000)
        settle(other, "labels reviewed", timeout=120_000)
    finally:
        stop(proc)
    got = log_rows(user)
    assert got[row_a]["status"] == "ambiguous" and got[row_a]["view"] == "debug"
    assert got[row_b]["new"] == suggested_b and got[row]["new"] == suggested

    # a restart keeps every correction
    port = free_port()
    proc = start_app(port, env=env)
    try:
        wait_healthy(port)
        c = browser.new_context(viewport={"width": 1400, "height": 1000})
        again = open_suspects(c, f"http://127.0.0.1:{port}")
        assert "3 labels reviewed" in again.inner_text("body")
    finally:
        stop(proc)

    # the export: the label replaced, the original kept
    out = tmp_path / "fixed.csv"
    done = subprocess.run([sys.executable, "-m", "vae_core", "corrections", str(DEFAULT_MODEL), "--corpus", "ag_news_dev",
                           "--export", str(out)], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fixed = pd.read_csv(out)
    assert list(fixed.columns) == ["text", "label", "label_original", "review"]
    assert fixed["label"].iat[row] == suggested and fixed["review"].iat[row] == "relabel"
    assert fixed["label_original"].iat[row] != suggested
    printed = subprocess.run([sys.executable, "-m", "vae_core", "corrections", str(DEFAULT_MODEL), "--corpus",
                              "ag_news_dev"], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True)
    assert f"row {row:>6}  relabel" in printed.stdout, printed.stdout
