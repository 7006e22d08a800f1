"""Real browser: `streamlit run app.py` on a free port, Debian's Chromium driven by Playwright through
every page. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest
from app_server import free_port, settle, start_app, stop, wait_healthy
from playwright.sync_api import expect

from conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def app_url():
    port = free_port()
    proc = start_app(port)
    try:
        wait_healthy(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        log = stop(proc)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "streamlit.log").write_text(log)
        assert "Traceback" not in log, log[-3000:]


def new_page(browser, width=1280, height=800):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def wait_metric(page, value: str, timeout: float = 90_000) -> None:
    """Wait until the first metric (the predicted class) shows `value` and is no longer stale."""
    page.wait_for_function(
        "([v]) => { const m = document.querySelector('[data-testid=\"stMetricValue\"]');"
        " return m && m.innerText.trim() === v && !m.closest('[data-stale=\"true\"]'); }", arg=[value], timeout=timeout)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def assert_no_error(page, errors) -> None:
    body = page.inner_text("body")
    assert "Traceback" not in body and not page.locator("[data-testid='stException']").count(), body[:2000]
    assert not errors, errors


def test_every_page_in_a_real_browser(app_url, browser):
    page, errors = new_page(browser)
    page.goto(app_url)
    settle(page, "Decoded from the latent")
    box = page.get_by_label("Text", exact=True)
    expect(box).to_be_editable()
    box.fill("Roger Federer beat Andy Roddick to win Wimbledon for the third time.")
    box.press("Control+Enter")
    wait_metric(page, "Sports")
    settle(page, "Decoded from the latent")
    assert page.locator(".js-plotly-plot").count() >= 2
    shot(page, "classify")
    assert_no_error(page, errors)

    # the map, with the typed text as a star; lasso a region
    page.get_by_role("link", name="Latent map").click()
    settle(page, "documents · projection")
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    drag = plot.locator(".nsewdrag").first
    b = drag.bounding_box()
    cx, cy, r = b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.5, min(b["width"], b["height"]) * 0.3
    page.mouse.move(cx - r, cy - r)
    page.mouse.down()
    for x, y in ((cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r), (cx - r, cy - r)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    settle(page, "Selected documents (")
    assert page.get_by_text("Decode here").count()
    shot(page, "latent_map_selection")
    assert_no_error(page, errors)

    page.get_by_role("link", name="Interpolate").click()
    settle(page, "Decoded text at every step")
    settle(page, "The path on the map")
    # the first table is the path's (the class-direction walk below has one too, of 9 steps)
    rows = page.locator("table").first.locator("tr").count()
    assert rows == 8  # the default 8 steps
    shot(page, "interpolate")
    assert_no_error(page, errors)


def test_narrow_window(app_url, browser):
    page, errors = new_page(browser, 420, 900)
    page.goto(app_url)
    settle(page, "Decoded from the latent")
    shot(page, "classify_narrow")
    assert_no_error(page, errors)


def test_debug_counterfactual_download_and_shared_link(app_url, browser):
    page, errors = new_page(browser, 1280, 1000)
    page.goto(f"{app_url}/debug")
    settle(page, "Find the counterfactual")
    heading = page.get_by_text("Document #").first.inner_text()
    page.get_by_role("button", name="Find the counterfactual").click()
    settle(page, "Move to flip the classifier")
    shot(page, "debug_counterfactual")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download this cell (CSV)").click()
    path = dl.value.path()
    lines = open(path, encoding="utf-8").read().splitlines()
    assert lines[0].startswith("row,text,label,pred") and len(lines) > 1
    assert_no_error(page, errors)
    url = page.url
    assert "doc=" in url and "true=" in url and "model=ag_news_vae" in url and "corpus=ag_news_dev" in url
    other, errors2 = new_page(browser, 1280, 1000)
    other.goto(url)
    settle(other, "Find the counterfactual")
    assert other.get_by_text("Document #").first.inner_text() == heading
    shot(other, "debug_shared_link")
    assert_no_error(other, errors2)


def test_error_slices_suspects_and_region_names_in_a_real_browser(app_url, browser):
    page, errors = new_page(browser, 1280, 1000)
    page.goto(f"{app_url}/debug?view=Error+slices")
    settle(page, "Documents in a slice")
    expect(page.get_by_text("Slice 0:").first).to_be_visible()
    expect(page.locator(".annotation-text", has_text="slice 0")).to_have_count(1)  # its place on the map
    shot(page, "debug_error_slices")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download slice membership (CSV)").click()
    lines = open(dl.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("row,slice,description,label,pred,text") and len(lines) > 100
    assert "view=Error+slices" in page.url or "view=Error%20slices" in page.url
    page.get_by_text("Suspect labels", exact=True).click()
    settle(page, "The evidence.")
    shot(page, "debug_suspect_labels")
    page.goto(f"{app_url}/latent_map")
    settle(page, "Region names")
    names = page.locator(".annotation-text")
    expect(names.first).to_be_visible()
    assert 3 <= names.count() <= 12
    shot(page, "latent_map_regions")
    assert_no_error(page, errors)


def test_a_map_past_its_points_limit_draws_every_document_as_an_image_and_answers_a_lasso(browser):
    """The app with VAE_MAP_POINTS_MAX=1000 on the 3,800-document corpus: the map is a density image with a sample
    of 125 points; a lasso selects the documents inside it (found among all of them by the server), the CSV holds
    them all; "Zoom in here" redraws that area with each document a point, the selection kept; "Whole map" goes back."""
    import re

    import numpy as np
    from app_server import lasso

    port = free_port()
    proc = start_app(port, env={"VAE_MAP_POINTS_MAX": "1000"})
    try:
        wait_healthy(port)
        page, errors = new_page(browser, 1280, 1000)
        page.goto(f"http://127.0.0.1:{port}/latent_map")
        settle(page, "drawn as a density image")
        plot = page.locator(".js-plotly-plot").first
        expect(plot.locator(".imagelayer image")).to_have_count(1)
        shot(page, "latent_map_density")
        from vae_core.corpus_index import CorpusIndex

        corpus = CorpusIndex.load(REPO / "assets" / "models" / "ag_news_vae" / "index" / "ag_news_dev.parquet")
        world = corpus.xy[(corpus.df["pred"] == "World").to_numpy()]
        page.get_by_text("Region names", exact=True).click()  # names would push the lasso off the cloud
        settle(page, "drawn as a density image")
        expect(plot.locator(".annotation")).to_have_count(0)
        lasso(page, plot, half=50, near=tuple(float(v) for v in np.median(world, 0)))  # inside the World cloud
        settle(page, "Decode here")
        heading = page.get_by_text(re.compile(r"^Selected documents \([0-9,]+\)$")).first.inner_text()
        selected = int(heading.split("(")[1].rstrip(")").replace(",", ""))
        assert selected > 0
        with page.expect_download() as dl:
            page.get_by_role("button", name=re.compile("Download the selection")).click()
        lines = open(dl.value.path(), encoding="utf-8").read().splitlines()
        assert lines[0].startswith("row,text,label,pred") and len(lines) == selected + 1
        page.get_by_role("button", name="Zoom in here").click()
        settle(page, "zoomed in:")
        expect(plot.locator(".imagelayer image")).to_have_count(0)  # few enough documents: each a point
        expect(page.get_by_text(heading, exact=True)).to_be_visible()  # the selection stays, circled on the map
        shot(page, "latent_map_zoomed")
        page.get_by_role("button", name="Whole map").click()
        settle(page, "drawn as a density image")
        assert_no_error(page, errors)
    finally:
        log = stop(proc)
        assert "Traceback" not in log, log[-3000:]


def test_a_link_to_your_own_model_opens_it_in_a_fresh_browser(own_run, browser):
    """`train`'s own model, served by the command `train` printed; a link from its Debug page opened in a new
    browser context shows the same model, corpus and document; a link naming a model the server lacks says so."""
    from urllib.parse import parse_qs, urlparse

    port = free_port()
    proc = start_app(port, args=["--models-dir", str(own_run)])
    try:
        wait_healthy(port)
        url = f"http://127.0.0.1:{port}"
        page, errors = new_page(browser, 1280, 1000)
        page.goto(f"{url}/debug")
        settle(page, "Find the counterfactual")
        heading = page.get_by_text("Document #").first.inner_text()
        link = page.url
        params = parse_qs(urlparse(link).query)
        assert params["model"] == ["my models / tiny_news"] and params["corpus"] == ["dev"] and "doc" in params, link
        shot(page, "own_model_debug")
        assert_no_error(page, errors)
        other = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        other.goto(link)
        settle(other, "Find the counterfactual")
        assert other.get_by_text("Document #").first.inner_text() == heading
        # the picker's caption: the tiny model's own classes (the bundled model has four others)
        assert "3 classes (money, sport, tech)" in other.locator("[data-testid='stSidebar']").inner_text()
        shot(other, "own_model_shared_link")
        missing = browser.new_context().new_page()
        missing.goto(f"{url}/?model=nobody%27s+model&corpus=dev")
        settle(missing, "does not have")
        assert "nobody's model" in missing.inner_text("body")
        shot(missing, "missing_model_link")
    finally:
        log = stop(proc)
        assert "Traceback" not in log, log[-3000:]


PAYLOAD = ('<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> '
           '[click me](javascript:window.__xss=3) <b onmouseover="window.__xss=4">bold</b> $x^2$ **stars**')


def test_injected_html_and_markdown_stay_inert(app_url, browser, tmp_path):
    page, errors = new_page(browser, 1280, 1000)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app_url)
    settle(page, "Decoded from the latent")
    box = page.get_by_label("Text", exact=True)
    expect(box).to_be_editable()
    box.fill(PAYLOAD)
    box.press("Control+Enter")
    page.wait_for_function("() => document.body.innerText.includes('onerror=\"window.__xss=1\"')", timeout=90_000)
    settle(page, "Decoded from the latent")
    body = page.inner_text("body")
    assert "onerror" in body and "javascript:window.__xss=3" in body  # shown, not run
    # a corpus whose texts carry the payloads, uploaded and shown on every page
    csv = tmp_path / "xss.csv"
    csv.write_text('text,label\n"' + PAYLOAD.replace('"', '""') + '",World\n"a quiet news story about markets",Business\n',
                   encoding="utf-8")
    page.get_by_role("link", name="Your corpus").click()
    settle(page, "Upload a file to begin")
    page.locator("input[type=file]").set_input_files(str(csv))
    settle(page, "Encode the corpus")
    page.get_by_text("PCA (fast)", exact=True).click()  # the label: the radio input itself is hidden
    page.get_by_role("button", name="Encode the corpus").click()
    settle(page, "is ready")
    for link, text in (("Latent map", "documents · projection"), ("Debug", "Macro-F1"),
                       ("Interpolate", "Decoded text at every step"), ("Samples", "Draws from the prior"),
                       ("Model", "Configuration and data")):
        page.get_by_role("link", name=link, exact=True).click()
        settle(page, text)
        page.mouse.move(640, 500)
    shot(page, "xss_model_page")
    assert page.evaluate("() => window.__xss") is None, "an injected script ran"
    assert not dialogs, dialogs
    assert_no_error(page, errors)


def test_ten_sessions_for_a_minute_and_a_half_see_only_their_own_text(tmp_path):
    """The CI version of scripts/soak.py (the full run is 10 sessions for 10 minutes)."""
    import json
    import subprocess
    import sys

    out = tmp_path / "soak.json"
    # every session does at least two full rounds, however long a busy machine takes for them
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "soak.py"), "--sessions", "10", "--minutes", "1.5",
                          "--min-rounds", "2", "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=1500)
    report = json.loads(out.read_text())
    (ARTIFACTS / "soak_1min.json").parent.mkdir(exist_ok=True)
    (ARTIFACTS / "soak_1min.json").write_text(json.dumps(report, indent=2))
    assert len(report["per_session"]) == 10, res.stdout[-2000:]
    assert all(s["rounds"] >= 2 for s in report["per_session"].values()), res.stdout[-2000:]
    assert report["errors"] == 0, json.dumps(report["per_session"])[:3000]
    assert report["foreign_text_seen"] == 0 and report["server_tracebacks"] == 0
