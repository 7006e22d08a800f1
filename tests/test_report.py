"""The offline report: one HTML file that holds the model's figures, agrees with `evaluate`, and opens in a browser
with the network cut off."""
from __future__ import annotations

import re

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def report(own_run, tmp_path_factory):
    """`python -m app_ui report` on a model `train` made, and its dev file (which `train` indexed)."""
    from app_ui.cli import main

    root = own_run.parent.parent
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(own_run / "model"), "--data", str(root / "dev.csv"), "--output", str(out)]) == 0
    return out


def test_the_report_holds_every_section_and_needs_no_network(report):
    page = report.read_text(encoding="utf-8")
    for heading in ("The model", "Classification", "Confusion matrix", "Reliability", "The latent map",
                    "three explained documents", "decoded interpolation"):
        assert heading in page, heading
    assert page.count("Plotly.newPlot") >= 3  # confusion matrix, reliability, map
    assert len(re.findall(r"/\*! For license information please see plotly", page)) <= 1  # plotly.js inlined once
    # nothing loaded from elsewhere: no script, stylesheet, image or font by URL
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=['\"]?(https?:)?//", page)
    assert "@import" not in page and "url(http" not in page
    assert "TF-IDF + logistic regression" in page  # the baseline, from the training file beside the dev file
    assert report.stat().st_size < 15e6


def test_the_report_agrees_with_evaluate(own_run, report):
    from vae_core.evaluate import evaluate_file
    from vae_core.modeling import TextVAE

    res = evaluate_file(TextVAE.from_pretrained(own_run / "model"), str(own_run.parent.parent / "dev.csv"),
                        generation_rows=0, progress=False)
    page = report.read_text(encoding="utf-8")
    assert f'<div class="v">{res["accuracy"]:.1%}</div><div class="k">accuracy on {res["documents"]:,} documents' in page
    assert f'<div class="v">{res["ece"]:.2%}</div><div class="k">expected calibration error' in page
    assert f'{res["macro_f1"]:.3f}</div><div class="k">macro-F1' in page


def test_a_report_on_a_file_the_model_never_indexed_encodes_it(own_run, tmp_path, capsys):
    from app_ui.cli import main

    data = tmp_path / "other.csv"
    data.write_text("text,label\n" + "".join(f"{w} news {i},{lab}\n" for i, (w, lab) in enumerate(
        [("market", "money"), ("goal", "sport"), ("chip", "tech")] * 8)))
    out = tmp_path / "r.html"
    assert main(["report", str(own_run / "model"), "--data", str(data), "--output", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "other.csv" in page and "24 documents" in page
    assert "No baseline" in page  # no training file beside it


def test_report_file_names_are_safe():
    from app_ui.report import file_name

    assert file_name("my models / run 1", "../dev set") == "my_models_run_1_dev_set_report.html"


@pytest.mark.browser
def test_the_report_opens_offline_in_chromium(report):
    from app_server import launch_chromium
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            def block(route):  # the network is off: anything but the file itself fails
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    requested.append(route.request.url)
                    route.abort()

            page.route("**/*", block)
            page.goto(report.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            assert page.locator(".js-plotly-plot").count() >= 3
            assert "Reliability" in page.inner_text("body")
            (REPO / "test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(REPO / "test-artifacts" / "report.png"), full_page=True)
            assert not errors, errors
            assert not requested, requested
        finally:
            browser.close()


@pytest.mark.integration
def test_the_bundled_models_report_matches_its_evaluation_and_the_apps_slices():
    """On the bundled model's dev index: the report's accuracy and ECE are evaluation.json's (written by `evaluate`
    on the same file at build time), and its error slices are the ones `slices` and the Debug page find."""
    import json

    from conftest import DEFAULT_MODEL
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer
    from vae_core.interpret.groups import error_slices
    from vae_core.report_data import gather

    explorer = Explorer.load(DEFAULT_MODEL)
    corpus = CorpusIndex.load(DEFAULT_MODEL / "index" / "ag_news_dev.parquet")
    data = gather(explorer, corpus, "dev.csv")
    built = json.loads((DEFAULT_MODEL / "evaluation.json").read_text())
    assert data["classification"]["accuracy"] == pytest.approx(built["accuracy"], abs=1e-9)
    assert data["classification"]["confusion_matrix"] == built["confusion_matrix"]
    assert data["calibration"]["ece"] == pytest.approx(built["ece"], abs=1e-6)
    slices = error_slices(explorer, corpus)
    assert [(s["size"], s["true"], s["pred"], s["description"]) for s in data["slices"]] == \
        [(s.size, s.true_label, s.pred_label, s.description) for s in slices[: len(data["slices"])]]
    assert data["slices_total"]["slices"] == len(slices)


def test_the_librarys_report_command_says_where_the_report_is_drawn(capsys):
    """The library never imports the app: `python -m vae_core report` names the app's command instead."""
    from vae_core.cli import main

    assert main(["report", "MODEL", "--data", "dev.csv"]) == 2
    err = capsys.readouterr().err
    assert "python -m app_ui report MODEL --data dev.csv" in err and "Traceback" not in err


def test_a_corpus_without_a_label_column_is_read_without_labels(own_run, tmp_path, capsys):
    """Where labels are optional (report, index, evaluate), a file without the label column is a corpus without
    labels, said in one line; a label column named but missing is still refused."""
    from app_ui.cli import main as app_main
    from vae_core.cli import main

    data = tmp_path / "unlabelled.csv"
    data.write_text("text\n" + "".join(f"{w} news {i}\n" for i, w in enumerate(["market", "goal", "chip"] * 8)))
    assert app_main(["report", str(own_run / "model"), "--data", str(data), "--output", str(tmp_path / "r.html")]) == 0
    assert main(["index", str(own_run / "model"), "--data", str(data), "--output", str(tmp_path / "u.parquet"),
                 "--projection", "pca"]) == 0
    assert main(["evaluate", str(own_run / "model"), "--data", str(data), "--generation-rows", "0", "--json"]) == 0
    out = capsys.readouterr()
    said = out.out + out.err
    assert said.count("unlabelled.csv has no 'label' column: read as a corpus without labels") == 3, said
    assert main(["index", str(own_run / "model"), "--data", str(data), "--label-column", "topic"]) == 2
    assert "has no label column 'topic'" in capsys.readouterr().err
