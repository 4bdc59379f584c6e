"""LAReQA data layer: real-data statistics, relevance, article keys, bad-input errors and the download path."""

from __future__ import annotations

import collections
import copy
import functools
import hashlib
import http.server
import json
import logging
import re
import threading
from pathlib import Path

import pytest

from hybrid_bench.data import lareqa, lareqa_sources
from hybrid_bench.data.lareqa import (
    DATASET_LANGS,
    MLQA_R_LANGS,
    XQUAD_R_LANGS,
    LAReQAData,
    lareqa_file,
    lareqa_source,
    load_lareqa,
)
from hybrid_bench.data.lareqa_json import read_lareqa_json
from hybrid_bench.data.sources import RemoteFile, file_sha256
from hybrid_bench.errors import DataError

# ----------------------------------------------------------------------------------------------- real data


def _upstream_table(shared_data: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """The statistics table of the upstream README: {dataset: {lang: (questions, candidates)}}."""
    table: dict[str, dict[str, tuple[int, int]]] = {"xquad-r": {}, "mlqa-r": {}}
    for line in (shared_data / "lareqa" / "README.upstream.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[a-z]{2}", cells[0]):
            lang, xq, xc, mq, mc = cells
            table["xquad-r"][lang] = (int(xq), int(xc))
            if mq.isdigit():
                table["mlqa-r"][lang] = (int(mq), int(mc))
    return table


@functools.cache
def _load_all(data_dir: str, name: str) -> LAReQAData:
    return load_lareqa(name, data_dir=data_dir, download=False)


@pytest.fixture
def xquad(shared_data: Path) -> LAReQAData:
    return _load_all(str(shared_data), "xquad-r")


@pytest.fixture
def mlqa(shared_data: Path) -> LAReQAData:
    return _load_all(str(shared_data), "mlqa-r")


@pytest.mark.parametrize("name", ["xquad-r", "mlqa-r"])
def test_counts_match_upstream_table(shared_data: Path, name: str) -> None:
    table = _upstream_table(shared_data)[name]
    assert sorted(table) == sorted(DATASET_LANGS[name])
    data = _load_all(str(shared_data), name)
    counts = {lang: (len(data.questions[lang]), len(data.candidates[lang])) for lang in data.langs}
    assert counts == table


def test_xquad_relevance_is_one_sentence_per_language(xquad: LAReQAData) -> None:
    by_lang = collections.Counter()
    for qid in xquad.qids():
        relevant = xquad.relevant(qid)
        assert len(relevant) == 11
        assert sorted(cid.split(":")[0] for cid in relevant) == sorted(XQUAD_R_LANGS)
        by_lang.update(cid.split(":")[0] for cid in relevant)
    assert len(xquad.qids()) == 1190
    assert all(n == 1190 for n in by_lang.values())


def test_mlqa_relevance_counts(mlqa: LAReQAData) -> None:
    langs_of = collections.defaultdict(set)
    for lang, questions in mlqa.questions.items():
        for q in questions:
            langs_of[q.qid].add(lang)
    sizes = collections.Counter(len(mlqa.relevant(qid)) for qid in mlqa.qids())
    assert set(sizes) == {2, 3, 4}
    assert sum(k * v for k, v in sizes.items()) == sum(len(qs) for qs in mlqa.questions.values())
    for qid in mlqa.qids():
        assert {cid.split(":")[0] for cid in mlqa.relevant(qid)} == langs_of[qid]


@pytest.mark.parametrize("name,lang", [("xquad-r", "tr"), ("xquad-r", "zh"), ("mlqa-r", "hi")])
def test_answer_candidate_contains_answer_start(shared_data: Path, name: str, lang: str) -> None:
    """Recompute, from the raw JSON, the sentence that holds each answer start; its text must be the candidate's."""
    data = _load_all(str(shared_data), name)
    candidates = {c.id: c for c in data.candidates[lang]}
    raw = json.loads((shared_data / "lareqa" / name / f"{lang}.json").read_text(encoding="utf-8"))
    expected = {}
    for article in raw["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                start = qa["answers"][0]["answer_start"]
                (sentence,) = [paragraph["context"][s:e] for s, e in paragraph["sentence_breaks"] if s <= start < e]
                expected[qa["id"]] = (qa["question"], sentence, paragraph["context"])
    got = {
        q.qid: (q.text, candidates[q.answer_candidate].text, candidates[q.answer_candidate].context)
        for q in data.questions[lang]
    }
    assert got == expected


def test_ids_unique_stable_and_within_language(xquad: LAReQAData, mlqa: LAReQAData) -> None:
    for data in (xquad, mlqa):
        candidate_ids = [c.id for cs in data.candidates.values() for c in cs]
        question_ids = [q.id for qs in data.questions.values() for q in qs]
        assert len(set(candidate_ids)) == len(candidate_ids)
        assert len(set(question_ids)) == len(question_ids)
        for lang, questions in data.questions.items():
            own = {c.id for c in data.candidates[lang]}
            assert all(q.answer_candidate in own and q.id == f"{lang}:{q.qid}" for q in questions)
    first = xquad.candidates["de"][0]
    assert first.id == "de:0000:00:00"
    assert first.text == first.context[: len(first.text)]
    assert xquad.questions["de"][0].answer_candidate == "de:0000:00:00"


def test_xquad_article_keys_are_the_untranslated_titles(shared_data: Path, xquad: LAReQAData) -> None:
    for lang in XQUAD_R_LANGS:
        raw = json.loads((shared_data / "lareqa" / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        titles = [a["title"] for a in raw["data"]]
        assert len(set(titles)) == 48
        assert {q.article for q in xquad.questions[lang]} == set(titles) == set(xquad.articles())
        assert {c.article for c in xquad.candidates[lang]} == set(titles)


def test_mlqa_article_keys_link_languages(shared_data: Path, mlqa: LAReQAData) -> None:
    raw_en = json.loads((shared_data / "lareqa" / "mlqa-r" / "en.json").read_text(encoding="utf-8"))
    assert set(mlqa.articles()) == {a["title"] for a in raw_en["data"]}
    en_article = {q.qid: q.article for q in mlqa.questions["en"]}
    for lang in MLQA_R_LANGS:
        assert all(q.article == en_article[q.qid] for q in mlqa.questions[lang])
    # A relevant candidate always belongs to the question's article, so an article split never splits relevance.
    candidate_article = {c.id: c.article for cs in mlqa.candidates.values() for c in cs}
    for q in mlqa.questions["de"]:
        assert {candidate_article[cid] for cid in mlqa.relevant(q.qid)} == {q.article}


def test_subset_of_languages(shared_data: Path, mlqa: LAReQAData) -> None:
    data = load_lareqa("mlqa-r", ["es", "de", "es"], data_dir=shared_data, download=False)
    assert data.langs == ("es", "de")
    assert set(data.questions) == set(data.candidates) == {"es", "de"}
    assert data.questions["de"] == mlqa.questions["de"]  # keys from the English pivot even without "en"
    shared = {q.qid for q in data.questions["de"]} & {q.qid for q in data.questions["es"]}
    assert shared
    for qid in data.qids():
        expected = {q.answer_candidate for lang in ("es", "de") for q in data.questions[lang] if q.qid == qid}
        assert data.relevant(qid) == expected
        assert len(data.relevant(qid)) == (2 if qid in shared else 1)


def test_restrict_articles(xquad: LAReQAData) -> None:
    keep = {"Warsaw", "Normans"}
    small = xquad.restrict_articles(keep)
    assert set(small.articles()) == keep
    for lang in XQUAD_R_LANGS:
        assert small.questions[lang] == tuple(q for q in xquad.questions[lang] if q.article in keep)
        assert small.candidates[lang] == tuple(c for c in xquad.candidates[lang] if c.article in keep)
    assert all(len(small.relevant(qid)) == 11 for qid in small.qids())
    dropped = next(q.qid for q in xquad.questions["en"] if q.article not in keep)
    with pytest.raises(KeyError, match="no question"):
        small.relevant(dropped)
    with pytest.raises(DataError, match="unknown article"):
        xquad.restrict_articles({"Warsaw", "Atlantis"})


def test_relevant_hint_for_question_id(xquad: LAReQAData) -> None:
    with pytest.raises(KeyError, match="Question.qid"):
        xquad.relevant(xquad.questions["de"][0].id)


def test_bad_names(shared_data: Path) -> None:
    with pytest.raises(DataError, match=r"unknown LAReQA data set 'squad'.*mlqa-r.*xquad-r"):
        load_lareqa("squad", data_dir=shared_data)
    with pytest.raises(DataError, match=r"mlqa-r has no language 'el'; valid languages are ar, de, en"):
        load_lareqa("mlqa-r", ["el"], data_dir=shared_data)
    with pytest.raises(DataError, match="not a string"):
        load_lareqa("mlqa-r", "de", data_dir=shared_data)
    with pytest.raises(DataError, match="no languages"):
        load_lareqa("mlqa-r", [], data_dir=shared_data)


def test_parsed_files_are_cached(shared_data: Path) -> None:
    path = lareqa_file("xquad-r", "en", data_dir=shared_data, download=False)
    assert read_lareqa_json(path) is read_lareqa_json(path)


def test_sources_pin_every_shared_file(shared_data: Path) -> None:
    sums = dict(
        reversed(line.split()) for line in (shared_data / "lareqa" / "SHA256SUMS").read_text().splitlines()
    )
    pinned = {
        f"{name}/{lang}.json": lareqa_source(name, lang) for name, langs in DATASET_LANGS.items() for lang in langs
    }
    assert {p: r.sha256 for p, r in pinned.items()} == sums
    for path, remote in pinned.items():
        assert remote.url.startswith("https://raw.githubusercontent.com/google-research-datasets/lareqa/")
        assert remote.url.endswith(path)
    assert file_sha256(shared_data / "lareqa" / "xquad-r" / "en.json") == sums["xquad-r/en.json"]


# ----------------------------------------------------------------------------------------------- hand-made files


def _squad(*paragraphs: dict, title: str = "Art") -> dict:
    return {"version": "1.1", "data": [{"title": title, "paragraphs": list(paragraphs)}]}


def _paragraph(context: str, breaks: list, qas: list) -> dict:
    return {"context": context, "sentence_breaks": breaks, "qas": qas}


def _qa(qid: str, question: str, start: int) -> dict:
    return {"id": qid, "question": question, "answers": [{"text": "x", "answer_start": start}]}


EN = _squad(
    _paragraph("One cat. Two dogs.", [[0, 8], [9, 18]], [_qa("q1", "How many dogs?", 9), _qa("q2", "Cats?", 0)]),
    _paragraph("Red sky.", [[0, 8]], [_qa("q3", "Which colour?", 0)]),
    title="Animals",
)
DE = _squad(
    _paragraph("Eine Katze. Zwei Hunde.", [[0, 11], [12, 23]], [_qa("q1", "Wie viele Hunde?", 12)]),
    _paragraph("Roter Himmel.", [[0, 13]], [_qa("q3", "Welche Farbe?", 6)]),
    title="Tiere",
)


def _write(root: Path, name: str, files: dict[str, object]) -> Path:
    folder = root / "lareqa" / name
    folder.mkdir(parents=True, exist_ok=True)
    for lang, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        (folder / f"{lang}.json").write_text(text, encoding="utf-8")
    return root


def test_hand_made_files_load(tmp_path: Path) -> None:
    root = _write(tmp_path, "mlqa-r", {"en": EN, "de": DE})
    data = load_lareqa("mlqa-r", ["de", "en"], data_dir=root, allow_modified=True)
    assert [c.text for c in data.candidates["de"]] == ["Eine Katze.", "Zwei Hunde.", "Roter Himmel."]
    assert [c.id for c in data.candidates["de"]] == ["de:0000:00:00", "de:0000:00:01", "de:0000:01:00"]
    assert {q.article for q in data.questions["de"]} == {"Animals"}  # the English title, not "Tiere"
    assert data.relevant("q1") == {"de:0000:00:01", "en:0000:00:01"}
    assert data.relevant("q2") == {"en:0000:00:00"}
    assert data.relevant("q3") == {"de:0000:01:00", "en:0000:01:00"}
    # data_dir may also point straight at the lareqa folder.
    again = load_lareqa("mlqa-r", ["de"], data_dir=root / "lareqa", allow_modified=True)
    assert again.questions["de"] == data.questions["de"]


def _broken(mutate) -> dict:
    data = copy.deepcopy(DE)
    mutate(data["data"][0]["paragraphs"])
    return data


BAD_FILES = {
    "malformed json": ('{"data": [', None, "malformed JSON at line 1"),
    "no data list": ({"version": "1"}, "top level", "missing field 'data'"),
    "missing breaks": (_broken(lambda ps: ps[0].pop("sentence_breaks")), "Tiere paragraph 0", "sentence_breaks"),
    "overlapping breaks": (
        _broken(lambda ps: ps[0].update(sentence_breaks=[[0, 12], [11, 23]])),
        "Tiere paragraph 0",
        "overlaps the previous sentence",
    ),
    "out-of-range breaks": (
        _broken(lambda ps: ps[0].update(sentence_breaks=[[0, 11], [12, 40]])),
        "Tiere paragraph 0",
        "out of range for a context of 23 characters",
    ),
    "non-integer break": (
        _broken(lambda ps: ps[0].update(sentence_breaks=[[0, "11"], [12, 23]])),
        "Tiere paragraph 0",
        "should be [start, end] integers",
    ),
    "empty sentence": (
        _broken(lambda ps: ps[0].update(context="Eine Katze.            ", sentence_breaks=[[0, 11], [12, 23]])),
        "Tiere paragraph 0",
        "sentence 1 [12, 23] has empty text",
    ),
    "answer between sentences": (
        _broken(lambda ps: ps[0]["qas"][0]["answers"][0].update(answer_start=11)),
        "q1",
        "answer start 11 is outside every sentence",
    ),
    "answer past the end": (
        _broken(lambda ps: ps[0]["qas"][0]["answers"][0].update(answer_start=99)),
        "q1",
        "answer start 99 is outside every sentence",
    ),
    "empty question": (
        _broken(lambda ps: ps[0]["qas"][0].update(question="  ")),
        "q1",
        "empty question text",
    ),
    "no answers": (_broken(lambda ps: ps[0]["qas"][0].update(answers=[])), "q1", "no answers"),
    "duplicate qid": (
        _broken(lambda ps: ps[1]["qas"][0].update(id="q1")),
        "q1",
        "duplicate question id (also in Tiere paragraph 0)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_raises_one_data_error(tmp_path: Path, case: str) -> None:
    content, item, problem = BAD_FILES[case]
    root = _write(tmp_path, "xquad-r", {"en": EN, "de": content})
    with pytest.raises(DataError) as info:
        load_lareqa("xquad-r", ["en", "de"], data_dir=root, download=False, allow_modified=True)
    error = info.value
    assert Path(str(error.file)).name == "de.json"
    assert error.item == item
    assert problem in str(error)
    assert "de.json" in str(error)


def test_fixed_file_is_parsed_again(tmp_path: Path) -> None:
    root = _write(tmp_path, "xquad-r", {"en": EN, "de": BAD_FILES["overlapping breaks"][0]})
    with pytest.raises(DataError):
        load_lareqa("xquad-r", ["de"], data_dir=root, download=False, allow_modified=True)
    _write(tmp_path, "xquad-r", {"de": DE})
    assert len(load_lareqa("xquad-r", ["de"], data_dir=root, download=False, allow_modified=True).candidates["de"]) == 3


def test_bad_pivot_file_is_named(tmp_path: Path) -> None:
    root = _write(tmp_path, "xquad-r", {"en": "not json", "de": DE})
    with pytest.raises(DataError, match=r"en\.json: malformed JSON"):
        load_lareqa("xquad-r", ["de"], data_dir=root, download=False, allow_modified=True)


# ----------------------------------------------------------------------------------------------- where files come from


@pytest.fixture
def no_env_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYBRID_BENCH_DATA", raising=False)
    monkeypatch.setattr("huggingface_hub.is_offline_mode", lambda: False)  # the tests' HTTP server is local
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def http_root(tmp_path: Path):
    """A local HTTP server (no internet) serving tmp_path/'served'; yields (folder, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _pin(monkeypatch: pytest.MonkeyPatch, url_of, sha_of) -> None:
    def fake_source(name: str, lang: str) -> RemoteFile:
        return RemoteFile(relpath=f"lareqa/{name}/{lang}.json", url=url_of(name, lang), sha256=sha_of(name, lang))

    monkeypatch.setattr(lareqa_sources, "lareqa_source", fake_source)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_download_into_cache_and_verify(no_env_data, http_root, monkeypatch: pytest.MonkeyPatch) -> None:
    served, base = http_root
    texts = {lang: json.dumps(content) for lang, content in {"en": EN, "de": DE}.items()}
    for lang, text in texts.items():
        (served / f"{lang}.json").write_text(text, encoding="utf-8")
    _pin(monkeypatch, lambda name, lang: f"{base}/{lang}.json", lambda name, lang: _sha(texts[lang]))

    data = load_lareqa("mlqa-r", ["de"])
    assert data.relevant("q1") == {"de:0000:00:01"}
    from hybrid_bench import paths

    cached = paths.data_cache_dir() / "lareqa" / "mlqa-r"
    assert (cached / "de.json").read_text(encoding="utf-8") == texts["de"]
    assert (cached / "en.json").is_file()  # the pivot file came along
    # The cached copy is used from now on, even with the server gone and downloads off.
    (served / "de.json").unlink()
    assert lareqa_file("mlqa-r", "de", download=False) == cached / "de.json"


def test_corrupt_download_leaves_nothing(no_env_data, http_root, monkeypatch: pytest.MonkeyPatch) -> None:
    served, base = http_root
    (served / "de.json").write_text(json.dumps(DE), encoding="utf-8")
    _pin(monkeypatch, lambda name, lang: f"{base}/{lang}.json", lambda name, lang: "0" * 64)
    with pytest.raises(DataError, match="could not download") as info:
        lareqa_file("xquad-r", "de")
    assert "--data-dir" in str(info.value)
    from hybrid_bench import paths

    folder = paths.data_cache_dir() / "lareqa" / "xquad-r"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_offline_error_says_how_to_fix(no_env_data, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _pin(monkeypatch, lambda name, lang: "http://127.0.0.1:9/nothing.json", lambda name, lang: "0" * 64)
    with pytest.raises(DataError) as info:
        load_lareqa("xquad-r", ["de"])
    message = str(info.value)
    assert "could not download http://127.0.0.1:9/nothing.json" in message
    assert "--data-dir" in message and "HYBRID_BENCH_DATA" in message
    assert "lareqa/xquad-r/de.json" in message
    with pytest.raises(DataError, match="downloading is disabled"):
        lareqa_file("xquad-r", "de", data_dir=tmp_path, download=False)


def test_env_var_and_precedence(no_env_data, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_root = _write(tmp_path / "env", "mlqa-r", {"en": EN, "de": DE})
    other = copy.deepcopy(DE)
    other["data"][0]["paragraphs"][1]["context"] = "Blauer Himmel."
    other["data"][0]["paragraphs"][1]["sentence_breaks"] = [[0, 14]]
    explicit_root = _write(tmp_path / "explicit", "mlqa-r", {"en": EN, "de": other})
    monkeypatch.setenv("HYBRID_BENCH_DATA", str(env_root))
    assert lareqa_file("mlqa-r", "de", download=False, allow_modified=True) == env_root / "lareqa" / "mlqa-r" / "de.json"
    from_env = load_lareqa("mlqa-r", ["de"], download=False, allow_modified=True)
    from_explicit = load_lareqa("mlqa-r", ["de"], data_dir=explicit_root, download=False,
                                allow_modified=True)
    assert from_env.candidates["de"][-1].text == "Roter Himmel."
    assert from_explicit.candidates["de"][-1].text == "Blauer Himmel."


def test_local_copy_with_other_checksum_is_refused(tmp_path: Path) -> None:
    root = _write(tmp_path, "xquad-r", {"en": EN})
    with pytest.raises(DataError, match=r"en\.json: sha256 .* differs from the pinned .*--allow-modified-data"):
        lareqa_file("xquad-r", "en", data_dir=root)
    assert lareqa_file("xquad-r", "en", data_dir=root, allow_modified=True) == root / "lareqa" / "xquad-r" / "en.json"


def test_modified_data_is_labelled_with_its_own_hash(shared_data: Path, tmp_path: Path) -> None:
    official = lareqa.lareqa_revision("xquad-r", ["de"], data_dir=shared_data)
    assert official == "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c"
    folder = tmp_path / "lareqa" / "xquad-r"
    folder.mkdir(parents=True)
    for lang in ("de", "en"):
        (folder / f"{lang}.json").symlink_to(shared_data / "lareqa" / "xquad-r" / f"{lang}.json")
    assert lareqa.lareqa_revision("xquad-r", ["de"], data_dir=tmp_path) == official
    (folder / "de.json").unlink()
    text = (shared_data / "lareqa" / "xquad-r" / "de.json").read_text(encoding="utf-8")
    (folder / "de.json").write_text(text.replace("Panthers", "Panther", 1), encoding="utf-8")
    with pytest.raises(DataError, match="de.json: sha256"):
        lareqa.lareqa_revision("xquad-r", ["de"], data_dir=tmp_path)
    first = lareqa.lareqa_revision("xquad-r", ["de"], data_dir=tmp_path, allow_modified=True)
    assert first.startswith("modified:") and first != official
    (folder / "de.json").write_text(text.replace("Panthers", "Panthe", 1), encoding="utf-8")
    assert lareqa.lareqa_revision("xquad-r", ["de"], data_dir=tmp_path, allow_modified=True) not in (first, official)


def test_only_the_asked_languages_are_read_and_offline_never_downloads(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "lareqa" / "xquad-r"
    folder.mkdir(parents=True)
    for lang in ("de", "en"):  # no th.json (nor the others)
        (folder / f"{lang}.json").symlink_to(shared_data / "lareqa" / "xquad-r" / f"{lang}.json")
    assert load_lareqa("xquad-r", ["de"], data_dir=tmp_path).langs == ("de",)
    monkeypatch.setattr("huggingface_hub.is_offline_mode", lambda: True)
    monkeypatch.setattr("pooch.retrieve", lambda *a, **k: pytest.fail("tried to download while offline"))
    with pytest.raises(DataError, match=r"th\.json: not available locally and offline \(HF_HUB_OFFLINE=1\)"):
        load_lareqa("xquad-r", ["th"], data_dir=tmp_path)


def test_language_file_that_is_a_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "lareqa" / "xquad-r" / "th.json").mkdir(parents=True)
    with pytest.raises(DataError, match=r"th\.json: is not a file \(a folder\?\)"):
        lareqa_file("xquad-r", "th", data_dir=tmp_path)


def test_real_copy_verifies_without_warning(shared_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hybrid_bench.data.sources"):
        lareqa_file("mlqa-r", "zh", data_dir=shared_data)
    assert "differs" not in caplog.text
