"""The same text gives bit-identical probabilities in every session and after restarts; the same seed
gives the same map."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import DEFAULT_MODEL, REPO

pytestmark = pytest.mark.integration
TEXTS = ["Oil prices rose to a record as traders worried about supplies.",
         "The striker scored twice as the home side won the cup final.",
         "زلزال يضرب المدينة 🌍 \u200b with mixed scripts"]
SCRIPT = """
import json, sys
from vae_core.inference import Explorer
ex = Explorer.load(sys.argv[1])
texts = json.loads(sys.argv[2])
out = [ex.classify(t, reconstruct=False).probs for t in texts]
out.append(ex.decode(ex.encode(texts[:1])[0]))
print(json.dumps(out))
"""


def run_fresh_process() -> list:
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(DEFAULT_MODEL), json.dumps(TEXTS)], cwd=REPO,
                         capture_output=True, text=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_probabilities_and_decoding_are_identical_across_restarts():
    a, b = run_fresh_process(), run_fresh_process()
    assert a == b  # bit-identical floats (JSON keeps every digit of a double) and the same decoded text


def test_probabilities_are_identical_across_sessions_of_one_process(default_model):
    # sessions share one loaded model (the app caches it) and take turns on it: what one asked before must not
    # change what another gets, and the answer equals that of a model loaded apart
    from conftest import DEFAULT_MODEL
    from vae_core.indexing import index_shared
    from vae_core.inference import Explorer
    from vae_core.modeling import TextVAE

    shared, apart = Explorer(default_model, "shared"), Explorer(TextVAE.from_pretrained(DEFAULT_MODEL), "apart")
    first = [shared.classify(t, reconstruct=False).probs for t in TEXTS]
    index_shared(shared, list(TEXTS) * 3, None, "pca")  # another session's batch work in between
    again = [shared.classify(t, reconstruct=False).probs for t in reversed(TEXTS)][::-1]
    assert again == first == [apart.classify(t, reconstruct=False).probs for t in TEXTS]


def test_map_coordinates_are_identical_for_a_seed(default_model):
    from vae_core.corpus_index import read_index
    from vae_core.interpret.projection import fit_projection

    df, meta = read_index(DEFAULT_MODEL / "index" / "ag_news_dev.parquet")
    mu = np.stack(df.mu.to_numpy())[:600]
    a, b = fit_projection(mu, "umap", seed=meta["seed"]), fit_projection(mu, "umap", seed=meta["seed"])
    assert np.array_equal(a, b)
