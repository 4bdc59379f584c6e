"""A tiny BERT sentence-transformer built offline, for fast unit tests (no hub access, < 1 s to build).

The tokenizer is a WordPiece model trained on the given texts with the `tokenizers` library, so any
language's characters present in the training texts are known; the model has 2 layers of width 32.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

DEFAULT_TEXTS = [
    "query: passage: what is the capital of france paris is the capital",
    "wie heißt die hauptstadt von deutschland berlin ist die hauptstadt",
    "¿cuál es la capital de españa? madrid es la capital",
    "какая столица россии москва столица",
    "中国的首都是哪里 北京是首都",
    "ما هي عاصمة مصر القاهرة هي العاصمة",
    "the quick brown fox jumps over the lazy dog 0123456789",
]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def word_vocab(texts: list[str], size: int = 3000) -> list[str]:
    """A WordPiece vocabulary of ``texts`` that is the same in every process: the special tokens, every character
    alone and as a continuation (``##c``), then the most frequent words (by count, then alphabetically).

    ``tokenizers``' WordPiece trainer breaks frequency ties through a randomly seeded hash map, so the vocabulary it
    learns — and a tiny model's embeddings — change from one process to the next; a test that needs the same model
    in every run (no near-tied scores that two tie-breaking rules order differently) builds it from this instead.
    """
    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts = Counter(word for text in texts for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for word in counts for c in word})
    base = [*SPECIAL_TOKENS, *chars, *(f"##{c}" for c in chars)]
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1]
    return base + words[: max(0, size - len(base))]


def build_tiny_model(
    out_dir: str | Path,
    texts: list[str] | None = None,
    *,
    seed: int = 0,
    hidden_size: int = 32,
    layers: int = 2,
    prompts: dict[str, str] | None = None,
    vocab: list[str] | None = None,
) -> SentenceTransformer:
    """Build, save to ``out_dir`` and return a tiny BERT SentenceTransformer (mean pooling + L2 norm).

    ``vocab``: a fixed WordPiece vocabulary (e.g. :func:`word_vocab`) instead of one trained on ``texts``."""
    out_dir = Path(out_dir)
    hf_dir = out_dir / "hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    if vocab is not None:
        tok = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)}, unk_token="[UNK]"))
    else:
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if vocab is None:
        trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIAL_TOKENS, show_progress=False)
        tok.train_from_iterator(list(texts or DEFAULT_TEXTS) * 3, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=64,
    )
    fast.save_pretrained(hf_dir)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=fast.vocab_size, hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=hidden_size * 2, max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=64)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, Normalize()],
        prompts=prompts if prompts is not None else {"query": "query: ", "document": "passage: "},
        device="cpu",
    )
    model.save(str(out_dir / "st"))
    return model


def build_tiny_e5_style_model(out_dir: str | Path, texts: list[str] | None = None, *, seed: int = 0) -> Path:
    """A tiny model built exactly the way ``me5-small`` is (a pooler-less ``BertModel`` saved through
    :func:`hybrid_bench.models.me5_small.save_e5_style_folder`, E5 prompts); returns its folder ``out_dir/st``."""
    from hybrid_bench.models.me5_small import PROMPTS, save_e5_style_folder

    out_dir = Path(out_dir)
    build_tiny_model(out_dir, texts, seed=seed)  # for its tokenizer
    fast = PreTrainedTokenizerFast.from_pretrained(out_dir / "hf")
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=fast.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    save_e5_style_folder(BertModel(config, add_pooling_layer=False), fast, out_dir / "e5", max_seq_length=64,
                         prompts=PROMPTS)
    return out_dir / "e5"
