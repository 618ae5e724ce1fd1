from __future__ import annotations

import numpy as np
from rank_bm25 import BM25Okapi

from index.api_index import ApiIndex
from index.evaluation import load_questions
from index.retrieval import Bm25Retriever, tokenize
from tests.conftest import APIBENCH


class LuceneIdfOkapi(BM25Okapi):
    """rank-bm25's Okapi scoring with Lucene's idf, the parameters bm25s serves with (same ranking)."""

    def _calc_idf(self, nd):  # noqa: ANN001 - rank-bm25's signature
        for word, freq in nd.items():
            self.idf[word] = float(np.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5)))


def test_tokenize_drops_stopwords_and_folds_plurals() -> None:
    assert tokenize("I need an API that can classify Images of Dogs") == ["classify", "image", "dog"]


def test_bm25s_agrees_with_rank_bm25_on_the_eval_questions(api_index: ApiIndex) -> None:
    retriever = api_index.retriever
    reference = LuceneIdfOkapi(retriever.corpus_tokens, k1=Bm25Retriever.k1, b=Bm25Retriever.b)
    questions = [q for f in ("torchhub_eval.json", "huggingface_eval.json", "tensorflow_eval.json")
                 for q in load_questions(APIBENCH / "eval" / f)]
    agree = 0
    for question in questions:
        tokens = tokenize(question.text)
        ours = retriever.index.get_scores([t for t in tokens if t in retriever.index.vocab_dict]) if any(
            t in retriever.index.vocab_dict for t in tokens) else np.zeros(len(retriever.corpus_tokens))
        theirs = reference.get_scores(tokens)
        top_ours = set(np.argsort(-ours, kind="stable")[:5])
        top_theirs = set(np.argsort(-theirs, kind="stable")[:5])
        agree += top_ours == top_theirs
    assert agree / len(questions) >= 0.95, agree / len(questions)


def test_search_returns_ranked_hits_with_hub_filter(api_index: ApiIndex) -> None:
    hits = api_index.retriever.search("semantic segmentation of street scenes", k=5, hub="torchhub")
    assert 1 <= len(hits) <= 5
    assert all(api_index.db.apis[h.api].hub == "torchhub" for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert "segmentation" in api_index.db.apis[hits[0].api].domain.lower()


def test_no_known_word_gives_no_hit(api_index: ApiIndex) -> None:
    assert api_index.retriever.search("zzqx wvvy", k=5) == []
