"""The paper's architectures end to end, offline: XLM-R and LaBSE stand-ins through train, stock ``mteb run``, leaderboard.

The stand-ins (tests/stand_ins.py) have the real architectures and folder layouts - a plain transformers XLM-R
folder with XLM-R's tokenizer, a LaBSE-shaped sentence-transformers folder (CLS pooling, Dense, Normalize) - but
2 layers of width 32. One module fixture runs what a user of the paper's setting runs: ``hybrid-bench train
--preset paper --plan``, ``hybrid-bench train --preset paper`` (a few steps) into the names of ``models.toml``,
the stock ``mteb run -m hybrid-xlmr hybrid-labse -t MIRACLRetrieval -l yor`` on the MIRACL mirror in a fresh
process, then ``hybrid-bench leaderboard``. The tests check what each step left behind, above all that mteb's
``model_meta.json`` describes the trained model rather than the base named in ``models.toml``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import SHARED_DATA
from stand_ins import LABSE_DENSE_OUT, XLMR_FILES, build_labse_stand_in, build_xlmr_stand_in

MIRROR = (SHARED_DATA / "miracl-lite").resolve()
MODELS = {"hybrid-xlmr": "xlmr", "hybrid-labse": "labse"}
TRAIN = ["--preset", "paper", "--steps", "2", "--batch-size", "4", "--languages", "en", "de", "--save-steps", "100"]


def _cli(argv: list[str]) -> tuple[int, str]:
    from hybrid_bench.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = int(main(argv) or 0)
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (MIRROR / "README.md").is_file() or not (SHARED_DATA / "lareqa").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    root = tmp_path_factory.mktemp("paper")
    home, results = root / "home", root / "mteb"
    bases = {"xlmr": build_xlmr_stand_in(root / "bases" / "xlmr"), "labse": build_labse_stand_in(root / "bases" / "labse")}
    env = {"HYBRID_BENCH_HOME": str(home), "HYBRID_BENCH_MIRRORS": f"mteb/MIRACLRetrieval={MIRROR}",
           "HYBRID_BENCH_DATA": str(SHARED_DATA)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        plans = {}
        for name, base in MODELS.items():
            rc, plans[name] = _cli(["train", "--preset", "paper", "--base", str(bases[base]), "--out", name, "--plan"])
            assert rc == 0
            rc, _ = _cli(["train", *TRAIN, "--base", str(bases[base]), "--out", name])
            assert rc == 0
        # the stock CLI's entry point (what bin/mteb runs) in a fresh interpreter - the registration a user's shell
        # gets -, once per model (`mteb run -m` takes one) in one process to pay mteb's start-up once
        argv = ["run", "-t", "MIRACLRetrieval", "-l", "yor", "--output-folder", str(results)]
        code = ("import sys\nfrom mteb.cli import main\n"
                f"for model in {list(MODELS)!r}:\n    sys.argv = ['mteb', *{argv!r}, '-m', model]\n    main()\n")
        proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=root,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rc, board = _cli(["leaderboard", str(results), "--out", str(root / "board"), "--no-plots", "--n-resamples", "200"])
        assert rc == 0
    return {"root": root, "home": home, "results": results, "bases": bases, "plans": plans, "board": board}


@pytest.fixture(scope="module")
def trained(paper_run: dict[str, Any]) -> dict[str, Any]:
    """The two trained models, loaded once."""
    from sentence_transformers import SentenceTransformer

    store = paper_run["home"] / "models"
    return {name: SentenceTransformer(str(store / name), device="cpu", local_files_only=True) for name in MODELS}


def _meta(run: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any], Path]:
    folder = next((run["results"] / "results" / f"hybrid-bench__{name}").iterdir())
    meta = json.loads((folder / "model_meta.json").read_text(encoding="utf-8"))
    result = json.loads((folder / "MIRACLRetrieval.json").read_text(encoding="utf-8"))
    return meta, result, folder


def test_stand_ins_have_the_real_layouts(paper_run: dict[str, Any]):
    xlmr, labse = paper_run["bases"]["xlmr"], paper_run["bases"]["labse"]
    assert sorted(p.name for p in xlmr.iterdir()) == sorted(XLMR_FILES)  # no modules.json: a plain transformers folder
    config = json.loads((xlmr / "config.json").read_text(encoding="utf-8"))
    assert (config["model_type"], config["architectures"]) == ("xlm-roberta", ["XLMRobertaForMaskedLM"])
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((labse / "modules.json").read_text(encoding="utf-8"))]
    assert modules == ["Transformer", "Pooling", "Dense", "Normalize"]


def test_paper_plan_names_the_recipe_and_the_base_actually_used(paper_run: dict[str, Any]):
    for name, base in MODELS.items():
        plan = paper_run["plans"][name]
        assert f"plan for model '{name}' (preset paper)" in plan
        assert f"base: {paper_run['bases'][base]}" in plan
        assert "AdamW lr 3e-05" in plan and "batch 100" in plan and "word embeddings trained" in plan


def test_trained_models_are_stored_under_their_table_names(paper_run: dict[str, Any], trained: dict[str, Any]):
    from hybrid_bench.training.base_model import PAPER_PROMPTS

    store = paper_run["home"] / "models"
    xlmr, labse = trained["hybrid-xlmr"], trained["hybrid-labse"]
    assert type(xlmr[0].auto_model).__name__ == "XLMRobertaModel"
    # XLM-R numbers positions from padding_idx + 1: 514 position embeddings hold 512 tokens, not 514
    assert xlmr.max_seq_length == 512
    assert [type(m).__name__ for m in labse] == ["Transformer", "Pooling", "Dense", "Normalize"]
    assert labse[1].pooling_mode == "cls" and labse.get_embedding_dimension() == LABSE_DENSE_OUT
    for model in (xlmr, labse):  # neither base has prompts: the paper's were given and saved
        assert {k: model.prompts[k] for k in PAPER_PROMPTS} == PAPER_PROMPTS
    for name, base in MODELS.items():
        record = json.loads((store / name / "hybrid_bench_training.json").read_text(encoding="utf-8"))
        assert record["base"] == str(paper_run["bases"][base]) and record["steps"] == 2


def test_mteb_model_meta_is_the_trained_models_own(paper_run: dict[str, Any], trained: dict[str, Any]):
    from hybrid_bench.models.registry import local_revision
    from hybrid_bench.training.base_model import PAPER_PROMPTS

    store = paper_run["home"] / "models"
    expected = {"hybrid-xlmr": (32, 512), "hybrid-labse": (LABSE_DENSE_OUT, 64)}
    for name, base in MODELS.items():
        meta, _, folder = _meta(paper_run, name)
        model = trained[name]
        assert meta["n_parameters"] == sum(p.numel() for p in model.parameters())
        assert meta["n_embedding_parameters"] == model[0].auto_model.get_input_embeddings().weight.numel()
        assert (meta["embed_dim"], meta["max_tokens"]) == expected[name]
        assert meta["adapted_from"] == str(paper_run["bases"][base])
        assert meta["loader_kwargs"]["model_prompts"] == PAPER_PROMPTS
        assert meta["revision"] == folder.name == local_revision(store / name)
    # languages come from the declared base's mteb entry, in their real scripts
    xlmr_langs = _meta(paper_run, "hybrid-xlmr")[0]["languages"]
    assert {"ara-Arab", "rus-Cyrl", "hin-Deva", "hin-Latn", "jpn-Jpan", "kur-Latn"} <= set(xlmr_langs)
    assert not {"ara-Latn", "rus-Latn", "jpn-Latn"} & set(xlmr_langs)


def test_miracl_scores_and_leaderboard(paper_run: dict[str, Any]):
    from hybrid_bench.data.mirrors import mirror_revision

    for name in MODELS:
        _, result, _ = _meta(paper_run, name)
        assert result["dataset_revision"] == mirror_revision(MIRROR)
        (subset,) = result["scores"]["dev"]
        assert subset["hf_subset"] == "yo" and 0.0 <= subset["ndcg_at_10"] <= 1.0
    table = next(line for line in paper_run["board"].splitlines() if line.startswith("| language"))
    assert "hybrid-xlmr" in table and "hybrid-labse" in table
    assert "submission check: mteb's ResultCache loads 2 model(s)" in paper_run["board"]


# -- the pieces ----------------------------------------------------------------------------
def test_corrected_scripts_follow_mteb_default_scripts():
    import mteb

    from hybrid_bench.models.language_scripts import LATIN_WRITTEN, correct_scripts

    declared = mteb.get_model_meta("FacebookAI/xlm-roberta-base", fetch_from_hf=False).languages
    fixed = correct_scripts(declared)
    by_lang: dict[str, set[str]] = {}
    for code in fixed:
        by_lang.setdefault(code.split("-")[0], set()).add(code.split("-")[1])
    assert by_lang["ara"] == {"Arab"} and by_lang["ell"] == {"Grek"} and by_lang["tha"] == {"Thai"}
    assert by_lang["ben"] == {"Latn", "Beng"} and by_lang["urd"] == {"Latn", "Arab"}  # CC-100's romanised variants
    assert by_lang["zho"] == {"Hans", "Hant"} and all(by_lang[lang] == {"Latn"} for lang in LATIN_WRITTEN)
    assert len(by_lang) == len(fixed) - 6  # one code per language but the 5 romanised ones and Chinese
    assert correct_scripts(fixed) == fixed


def test_folder_facts_of_a_plain_transformers_folder(paper_run: dict[str, Any], tmp_path: Path):
    from hybrid_bench.models.folder_facts import folder_facts
    from hybrid_bench.training.base_model import load_base_model

    folder = paper_run["bases"]["xlmr"]
    facts = folder_facts(folder)
    model = load_base_model(folder, device="cpu")
    # the saved encoder without its lm_head; sentence-transformers adds a freshly initialised pooler on load
    pooler = sum(p.numel() for p in model[0].auto_model.pooler.parameters())
    assert facts.n_parameters == sum(p.numel() for p in model.parameters()) - pooler
    assert (facts.embed_dim, facts.max_tokens, facts.pooling, facts.prompts) == (32, 512, "mean", {})
    assert model.max_seq_length == 512
    assert model.encode(["word " * 600]).shape == (1, 32)  # a passage past the limit is truncated, not an IndexError
    assert folder_facts(tmp_path / "missing") is None
