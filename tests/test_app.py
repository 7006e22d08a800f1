"""AppTest: the app and each page on the default model, every widget path once."""
import re

import pytest
from streamlit.testing.v1 import AppTest

from conftest import DEFAULT_MODEL, REPO

pytestmark = pytest.mark.integration
TIMEOUT = 180


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "pages" / name), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def plain(markdown: str) -> str:
    """Markdown source without the backslashes that escape user-controlled text."""
    return markdown.replace("\\", "")


def markdown_text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_app_routes_every_page_and_keeps_the_typed_text():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Classify"
    assert at.sidebar.selectbox(key="model_name").value == "ag_news_vae"
    assert at.sidebar.selectbox(key="corpus_name").value == "ag_news_dev"
    at.text_area(key="classify_text").set_value("Manchester United beat Arsenal 2-0 to go top of the league.").run()
    assert at.metric[0].value == "Sports"
    for path, title in (("pages/latent_map.py", "Latent map"), ("pages/interpolate.py", "Interpolate")):
        at.switch_page(path).run()
        assert not at.exception, at.exception
        assert at.title[0].value == title
    at.switch_page("pages/classify.py").run()
    assert at.text_area(key="classify_text").value.startswith("Manchester United"), "the typed text survives"


def test_classify_probabilities_uncertainty_attributions_and_reconstruction():
    at = page("classify.py")
    at.text_area(key="classify_text").set_value(
        "Manchester United beat Arsenal 2-0 to go top of the Premier League table.").run()
    assert not at.exception
    assert at.metric[0].label == "Predicted class" and at.metric[0].value == "Sports"
    assert at.metric[1].label == "Samples predicting another class" and at.metric[1].value.endswith("%")
    # probabilities, their spread over z samples, the attributions' deletion curves, the class-direction walk
    assert len(at.get("plotly_chart")) == 4
    assert "Move it along a class direction" in [s.value for s in at.subheader]
    text = markdown_text(at)
    captions = "\n".join(c.value for c in at.caption)
    assert "Integrated Gradients" in text and "Occlusion" in text and "converged in" in captions
    # faithfulness beside the explanations: each method and random words, and the verdict in words
    faith = at.dataframe[0].value
    assert list(faith["method"]) == ["Integrated Gradients", "Occlusion", "random words"]
    assert faith["comprehensiveness"].iloc[0] > faith["comprehensiveness"].iloc[2]
    assert "removing as many random words" in plain(captions)
    assert "Arsenal" in text  # the words, coloured
    assert at.code[0].value.strip(), "the reconstruction is shown"
    at.selectbox(key="attr_target").set_value("World").run()
    assert not at.exception and "for World" in markdown_text(at)


def test_example_buttons_fill_the_text_box_with_the_models_own_examples():
    import json

    own = json.loads((DEFAULT_MODEL / "examples.json").read_text())
    at = page("classify.py")
    assert at.text_area(key="classify_text").value == next(iter(own.values()))[0]
    assert [b.label for b in at.button if b.key.startswith("example_")] == ["Business", "Sci/Tech", "Sports", "World"]
    at.button(key="example_Sports").click().run()
    assert at.text_area(key="classify_text").value == own["Sports"][0]
    at.button(key="example_Sports").click().run()
    assert at.text_area(key="classify_text").value == own["Sports"][1], "another example on the next click"
    assert not at.exception and at.metric[0].label == "Predicted class"


def test_empty_text_asks_for_input():
    at = page("classify.py")
    at.text_area(key="classify_text").set_value("   ").run()
    assert not at.exception and "Type a text" in at.info[0].value


def test_long_text_is_truncated_with_a_notice():
    at = page("classify.py")
    at.text_area(key="classify_text").set_value("Stocks fell on Wall Street. " * 200).run()
    assert not at.exception
    assert any("reads only the first 128" in w.value for w in at.warning)


def test_latent_map_colour_modes_filter_selection_and_one_document():
    at = page("latent_map.py")
    chart = at.get("plotly_chart")[0]
    assert chart.proto.spec or chart.proto.figure.spec, "the map is drawn"
    for mode in ("pred", "correct", "confidence", "prob_std", "label"):
        at.selectbox(key="map_color").set_value(mode).run()
        assert not at.exception, mode
    at.toggle(key="map_landscape").set_value(False).run()
    assert not at.exception
    assert "Select documents" in at.info[0].value
    # select the misclassified Sports documents through the filter
    at.multiselect(key="map_filter_pred").set_value(["Sports"]).run()
    at.checkbox(key="map_filter_wrong").set_value(True).run()
    assert not at.exception
    sub = [s.value for s in at.subheader]
    assert any(s.startswith("Selected documents (") for s in sub) and "Decode here" in sub
    table = at.dataframe[0].value
    assert len(table) > 0 and (table["pred"] == "Sports").all() and (table["label"] != "Sports").all()
    assert at.code[0].value.strip(), "the centre of the selection is decoded"
    row = at.selectbox(key="map_doc").value
    assert any(h.value == f"#### Document #{row}" for h in at.markdown) or f"Document #{row}" in markdown_text(at)
    at.toggle(key=f"map_attr_{row}").set_value(True).run()
    assert not at.exception
    text = markdown_text(at)
    assert "Why Sports?" in text and "Why " in text.replace("Why Sports?", "")  # predicted and true class


def test_latent_map_past_its_points_limit_is_a_density_image_and_zooms_in_to_points(monkeypatch):
    """VAE_MAP_POINTS_MAX below the corpus' 3,800 documents: the map becomes a density image with a sample of
    points; a zoomed view holding few enough documents draws each as a point; "Whole map" goes back."""
    import json

    monkeypatch.setenv("VAE_MAP_POINTS_MAX", "1000")
    at = page("latent_map.py")

    def spec() -> dict:
        chart = at.get("plotly_chart")[0]
        return json.loads(chart.proto.spec or chart.proto.figure.spec)

    def caption() -> str:
        return next(c.value for c in at.caption if "documents · projection" in c.value)

    assert len(spec()["layout"]["images"]) == 1 and "density image of every document" in caption()
    for mode in ("pred", "correct", "confidence", "prob_std", "label"):
        at.selectbox(key="map_color").set_value(mode).run()
        assert not at.exception, mode
        assert len(spec()["layout"]["images"]) == 1, mode
    from vae_core.corpus_index import CorpusIndex

    corpus = CorpusIndex.load(DEFAULT_MODEL / "index" / "ag_news_dev.parquet")
    (cx, cy), (sx, sy) = corpus.xy.mean(0), corpus.xy.max(0) - corpus.xy.min(0)
    view = [float(cx - sx / 8), float(cx + sx / 8), float(cy - sy / 8), float(cy + sy / 8)]
    at.session_state["map_view"] = {"corpus": corpus.content_key, "view": [v + 1e3 for v in view]}
    at.run()  # an empty part of the map: nothing to draw, no error
    assert not at.exception and "zoomed in: 0 documents in view" in caption()
    at.session_state["map_view"] = {"corpus": corpus.content_key, "view": view}
    at.run()
    assert not at.exception
    assert "images" not in spec()["layout"] and "zoomed in:" in caption() and "density" not in caption()
    assert spec()["layout"]["xaxis"]["range"] == view[:2]
    at.button[-1].click().run()  # "Whole map"
    assert not at.exception and "map_view" not in at.session_state
    assert "density image" in caption()


def test_a_link_carries_the_zoomed_view_of_the_map():
    """The zoomed view is in the page's link (zoom=x0,x1,y0,y1), and a new session opened with it shows it; a
    malformed one is ignored."""
    at = AppTest.from_file(str(REPO / "pages" / "latent_map.py"), default_timeout=TIMEOUT)
    at.query_params["zoom"] = "-2,3,0.5,4.5"
    at.run()
    assert not at.exception, at.exception
    assert any("zoomed in:" in c.value for c in at.caption)
    chart = at.get("plotly_chart")[0]
    import json

    spec = json.loads(chart.proto.spec or chart.proto.figure.spec)
    assert spec["layout"]["xaxis"]["range"] == [-2, 3] and spec["layout"]["yaxis"]["range"] == [0.5, 4.5]
    assert at.query_params["zoom"] == "-2,3,0.5,4.5"  # published again for the next link
    bad = AppTest.from_file(str(REPO / "pages" / "latent_map.py"), default_timeout=TIMEOUT)
    bad.query_params["zoom"] = "1,2,nope"
    bad.run()
    assert not bad.exception and not any("zoomed in:" in c.value for c in bad.caption)
    assert "zoom" not in bad.query_params


def test_interpolate_between_two_corpus_documents_and_typed_texts():
    at = page("interpolate.py")
    assert [s.value for s in at.subheader][:2] == ["Class probabilities along the path", "Decoded text at every step"]
    at.slider(key="interp_steps").set_value(12).run()
    at.radio(key="interp_mode").set_value("spherical").run()
    assert not at.exception
    table = [m.value for m in at.markdown if m.value.startswith("<table")][0]
    assert table.count("<tr>") == 12
    at.radio(key="interp_src_A").set_value("Type a text").run()
    at.text_area(key="interp_text_A").set_value("The central bank raised interest rates again.").run()
    at.text_input(key="interp_q_B").set_value("olympic").run()
    assert not at.exception
    from vae_core.corpus_index import read_index

    df, _ = read_index(DEFAULT_MODEL / "index" / "ag_news_dev.parquet")
    assert "olympic" in df.text[at.selectbox(key="interp_doc_B").value].lower()
    # the probabilities along the path, the path on the map, and A's walk along a class direction
    assert len(at.get("plotly_chart")) == 3


def test_debug_cell_document_counterfactual_and_downloads():
    at = page("debug.py")
    assert [m.label for m in at.metric][:3] == ["Accuracy", "Macro-F1", "Misclassified"]
    at.selectbox(key="debug_true").set_value("Business").run()
    at.selectbox(key="debug_pred").set_value("Sci/Tech").run()
    assert not at.exception
    header = [s.value for s in at.subheader if s.value.startswith("True Business, predicted Sci/Tech")]
    assert header, [s.value for s in at.subheader]
    pairs = at.dataframe[0].value  # the most-confused pairs, ranked; the per-class figures; the cell's documents
    assert tuple(pairs.iloc[0][["true", "predicted as", "documents"]]) == ("Business", "Sci/Tech", 97)
    assert "What separates" in markdown_text(at)
    per_class = at.dataframe[1].value
    assert list(per_class["F1"]) == sorted(per_class["F1"])  # the worst first
    table = at.dataframe[2].value
    assert (table["label"] == "Business").all() and (table["pred"] == "Sci/Tech").all()
    assert list(table["confidence"]) == sorted(table["confidence"], reverse=True)
    row = at.selectbox(key="debug_doc").value
    assert int(table["row"].iloc[0]) == row
    text = markdown_text(at)
    assert "Why Sci/Tech?" in text and "Why Business?" in text  # attributions for both classes side by side
    assert at.selectbox(key="debug_target").value == "Business"
    at.button(key="debug_cf_run").click().run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Move to flip the classifier" in labels and "Move to the Business centroid" in labels
    assert len(at.get("plotly_chart")) >= 3  # confusion matrix, probabilities on the way, path on the map
    assert len(at.get("download_button")) == 2


def test_debug_error_slices_one_cell_and_membership_download():
    at = page("debug.py")
    at.radio(key="debug_view").set_value("Error slices").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Slices"]) >= 5 and metrics["Documents in a slice"].endswith("%)")
    table = at.dataframe[0].value
    assert list(table["documents"]) == sorted(table["documents"], reverse=True) and (table["documents"] >= 5).all()
    assert table["description (decoded from its centre)"].str.len().min() > 0
    assert (table["reads like"].isin(["World", "Sports", "Business", "Sci/Tech"])).all()
    first = table.iloc[0]
    assert any(h.value.startswith(f"#### Slice {first['slice']}: {first['documents']} documents") for h in at.markdown)
    assert len(at.get("download_button")) == 1
    # the slice's documents, and one of them opened
    docs = at.dataframe[1].value
    assert len(docs) == first["documents"] and (docs["label"] != docs["pred"]).all()
    assert at.selectbox(key="debug_slice_doc").value == int(docs["row"].iloc[0])
    # one cell of the confusion matrix
    scope = at.selectbox(key="debug_slice_scope")
    cell = next(o for o in scope.options if o.startswith("true Business → predicted Sci/Tech"))
    scope.set_value(cell.rsplit(" (", 1)[0]).run()
    assert not at.exception, at.exception
    docs = at.dataframe[1].value
    assert (docs["label"] == "Business").all() and (docs["pred"] == "Sci/Tech").all()


def test_debug_suspect_labels_with_their_evidence():
    at = page("debug.py")
    at.radio(key="debug_view").set_value("Suspect labels").run()
    assert not at.exception, at.exception
    assert at.metric[3].label == "Suspect labels"
    table = at.dataframe[0].value
    assert len(table) > 10 and list(table["score"]) == sorted(table["score"], reverse=True)
    assert (table["label"] != table["suggested"]).all()
    first = table.iloc[0]
    assert any(h.value == f"#### Row {first['row']}: labelled {first['label']}, probably {first['suggested']}"
               for h in at.markdown)
    assert "The evidence." in markdown_text(at)
    assert len(at.get("download_button")) == 1
    # back to the confusion matrix: its state is where it was
    at.radio(key="debug_view").set_value("Confusion matrix").run()
    assert not at.exception and at.selectbox(key="debug_true").value


def test_latent_map_names_its_regions_and_hides_them():
    import json

    at = page("latent_map.py")

    def annotations() -> list[dict]:
        chart = at.get("plotly_chart")[0]
        spec = json.loads(chart.proto.spec or chart.proto.figure.spec)
        return spec["layout"].get("annotations", [])

    names = annotations()
    assert 3 <= len(names) <= 12
    assert all(a["text"] and "words:" in a["hovertext"] for a in names)
    at.toggle(key="map_regions").set_value(False).run()
    assert not at.exception and annotations() == []


def test_interpolate_latent_arithmetic():
    at = page("interpolate.py")
    assert "Latent arithmetic" in [s.value for s in at.subheader]
    assert at.text_area(key="interp_arith_B").value == "sports"  # an example of Sports, minus its name
    assert at.text_area(key="interp_arith_C").value == "business"
    tables = [m.value for m in at.markdown if m.value.startswith("<table")]
    assert tables[-1].count("<tr>") == 5 and "A − B + C" in tables[-1]
    at.text_area(key="interp_arith_B").set_value("").run()
    assert not at.exception and any("Type a text for B" in i.value for i in at.info)


def test_samples_page_prior_classes_and_empty_places():
    at = page("samples.py")
    tables = [m.value for m in at.markdown if m.value.startswith("<table")]
    assert len(tables) == 3 and tables[0].count("<tr>") == 8  # the prior, a class region, empty places
    at.slider(key="samples_n").set_value(4).run()
    at.selectbox(key="samples_class").set_value("Sports").run()
    assert not at.exception
    tables = [m.value for m in at.markdown if m.value.startswith("<table")]
    assert tables[0].count("<tr>") == 4 and tables[1].count("<tr>") == 4


def test_model_page_health_and_curves():
    at = page("model.py")
    labels = {m.label: m.value for m in at.metric}
    assert labels["Active units"] == "96 / 96"
    kl = float(labels["KL per document"].split()[0])
    assert 5 <= kl <= 400
    # the independent reader's verdict on decoded text, from evaluation.json
    assert labels["Source found first"].endswith("%") and 0 < float(labels["Source found first"][:-1]) <= 100
    assert 0 < float(labels["Mean cosine to source"]) <= 1
    assert at.success and "No posterior collapse" in at.success[0].value
    assert len(at.get("plotly_chart")) == 3  # KL per dimension, reliability diagram, training curves
    # calibration on the corpus: the same ECE as evaluation.json measured on the same dev file
    import json

    built = json.loads((DEFAULT_MODEL / "evaluation.json").read_text())
    assert labels["Expected calibration error"] == f"{built['ece']:.2%}"
    assert [b.label for b in at.button if b.key == "report_build"] == ["Build the report"]


def test_upload_a_corpus_encode_it_and_use_it_on_the_map(tmp_path):
    rows = ["text,label,source"] + [
        f'"{t}",{y},test' for t, y in [
            ("The striker scored twice as the home side won the cup final.", "Sports"),
            ("Shares fell after the bank cut its profit forecast for the year.", "Business"),
            ("The new chip doubles battery life for laptops and phones.", "Sci/Tech"),
            ("Rebels and the army agreed to a ceasefire after talks in the capital.", "World"),
            ("The coach was sacked after a run of five defeats.", "Sports"),
            ("Oil prices rose on fears of supply cuts.", "Business"),
        ]]
    # AppTest does not click buttons after switch_page, so the page runs on its own first ...
    at = AppTest.from_file(str(REPO / "pages" / "upload.py"), default_timeout=TIMEOUT)
    at.session_state["upload_kept"] = ("my_corpus.csv", "\n".join(rows).encode("utf-8"))
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="upload_text_col").value == "text"
    assert at.selectbox(key="upload_label_col").value == "label"
    at.radio(key="upload_projection").set_value("pca").run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    assert any("is ready" in s.value for s in at.success)
    # ... then the app picks the upload in the sidebar and shows it on the map
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    app.session_state["uploads"] = at.session_state["uploads"]
    app.session_state["corpus_pick"] = at.session_state["corpus_pick"]
    app.run()
    assert app.sidebar.selectbox(key="corpus_name").value == "uploaded / my_corpus"
    app.switch_page("pages/latent_map.py").run()
    assert not app.exception
    assert "6 documents" in " ".join(c.value for c in app.caption)


def test_upload_with_a_bad_file_says_what_is_wrong():
    at = AppTest.from_file(str(REPO / "pages" / "upload.py"), default_timeout=TIMEOUT)
    at.session_state["upload_kept"] = ("bad.csv", b"text,label\n\xff\xfe broken,World\n")
    at.run()
    assert not at.exception
    assert at.error and "not UTF-8" in plain(at.error[0].value)
    at = AppTest.from_file(str(REPO / "pages" / "upload.py"), default_timeout=TIMEOUT)
    at.session_state["upload_kept"] = ("empty_text.csv", b"text,label\nfine text,World\n ,Sports\n")
    at.run()
    at.button(key="upload_go").click().run()
    assert not at.exception
    assert at.error and "empty_text.csv, row 2: the text in column 'text' is empty" in plain(at.error[0].value)


def test_compare_two_models_on_text_and_corpus(tiny_encoder_dir, tmp_path, monkeypatch):
    import torch

    from conftest import tiny_config
    from vae_core.encoders import load_encoder_tokenizer
    from vae_core.modeling import TextVAE

    torch.manual_seed(0)
    other = TextVAE(tiny_config(tiny_encoder_dir, labels=["Business", "Sci/Tech", "Sports", "World"]))
    other.tokenizer = load_encoder_tokenizer(tiny_encoder_dir)
    other.set_special_ids(other.tokenizer)
    other.save_pretrained(tmp_path / "models" / "tiny", dtype="float32")
    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path / "models"))
    at = AppTest.from_file(str(REPO / "pages" / "compare.py"), default_timeout=TIMEOUT)
    at.session_state["model_name"] = "ag_news_vae"  # A (a new session would open the newest of "my models")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare_b").value == "my models / tiny"
    assert "Why " in markdown_text(at)  # attributions from both models
    assert len(at.get("plotly_chart")) == 2  # the probabilities of A and of B
    at.button(key="compare_encode").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Same prediction"].endswith("%") and "Accuracy A / B" in metrics
    assert len(at.get("plotly_chart")) == 4  # and the two maps


def test_an_unexpected_failure_is_a_message_and_the_text_stays(monkeypatch):
    from vae_core.inference import Explorer

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()

    def broken(self, text, reconstruct=True):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(Explorer, "classify", broken)
    at.text_area(key="classify_text").set_value("A text nobody has classified before, about tennis.").run()
    assert not at.exception
    assert any("unexpected problem (RuntimeError)" in e.value for e in at.error)
    assert at.text_area(key="classify_text").value == "A text nobody has classified before, about tennis."


def test_a_model_trained_with_the_cli_opens_with_its_own_classes_examples_and_map(own_run, monkeypatch):
    monkeypatch.setenv("VAE_MODELS_DIR", str(own_run))  # the folder `train` told the user to open
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    picker = at.sidebar.selectbox(key="model_name")
    mine = [o for o in picker.options if o.startswith("my models")]
    assert mine == ["my models / tiny_news"], picker.options  # once, by its run's name; no resume state
    assert picker.value == "my models / tiny_news"  # the model the app was started for
    assert any("3 classes (money, sport, tech)" in c.value for c in at.sidebar.caption)
    assert at.sidebar.selectbox(key="corpus_name").value == "dev"
    assert [b.label for b in at.button if b.key.startswith("example_")] == ["money", "sport", "tech"]
    at.switch_page("pages/latent_map.py").run()
    assert not at.exception, at.exception
    assert at.get("plotly_chart"), "its own dev file is on the map"


def test_a_link_naming_another_model_or_a_class_it_lacks_says_so():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"model": "someone else's model", "explain": "Weather"})
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="model_name").value == "ag_news_vae"
    notes = " ".join(w.value for w in at.warning)
    assert "someone else's model" in notes and "does not have" in notes
    assert "Weather" in notes and "left out" in notes


def test_the_model_page_builds_a_report_of_your_own_model_to_download(own_run, monkeypatch):
    monkeypatch.setenv("VAE_MODELS_DIR", str(own_run))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/model.py").run()
    assert not at.exception, at.exception
    assert "Expected calibration error" in [m.label for m in at.metric]
    at.button(key="report_build").click().run()
    assert not at.exception, at.exception
    download = at.get("download_button")
    assert len(download) == 1 and re.fullmatch(r"Download report \([\d.]+ MB\)", download[0].proto.label)
    at.run()  # later runs offer the same file without building it again
    assert not [b for b in at.button if b.key == "report_build"] and len(at.get("download_button")) == 1


def test_drift_of_an_uploaded_corpus_against_the_models_own_finds_the_planted_topic():
    """Your corpus: an upload of news with DBpedia articles on plants and animals mixed in (9%) is compared with the
    model's dev corpus; the plants come out as the one drifted region, and a click on it lists its documents."""
    import io

    import pandas as pd

    news = pd.read_csv(REPO / "assets" / "data" / "ag_news" / "train.csv").sample(n=400, random_state=3)
    foreign = pd.read_csv(REPO / "benchmarks" / "data" / "dbpedia13" / "holdout.csv")
    plants = foreign[foreign["label"].isin(["Plant", "Animal"])].sample(n=40, random_state=0).assign(label="")
    buf = io.StringIO()
    pd.concat([news, plants]).sample(frac=1, random_state=0).to_csv(buf, index=False)
    at = AppTest.from_file(str(REPO / "pages" / "upload.py"), default_timeout=TIMEOUT)
    at.session_state["upload_kept"] = ("mixed_news.csv", buf.getvalue().encode("utf-8"))
    at.run()
    at.radio(key="upload_projection").set_value("pca").run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="drift_reference").value == "ag_news_dev"
    assert at.selectbox(key="drift_new").value == "uploaded / mixed_news"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drifted regions"] == "1" and float(metrics["Drift score"]) > 0.5
    assert any("1 region drifted" in plain(w.value) for w in at.warning)
    regions = at.dataframe[-1].value
    assert regions["drifted"].iloc[0] == "yes" and regions["in the new corpus"].iloc[0] == "more"
    assert {"species", "plant", "genus"} & set(regions["words"].iloc[0].split(", "))
    # the region opened (as a click on its row does), its documents listed: mostly the planted articles
    at.session_state["drift_region"] = int(regions["region"].iloc[0])
    at.run()
    assert not at.exception, at.exception
    listed = at.dataframe[-2].value
    assert (listed["label"].isna() | (listed["label"] == "")).mean() >= 0.7
    assert at.query_params["region"] in (str(regions["region"].iloc[0]), [str(regions["region"].iloc[0])])  # the link carries it
