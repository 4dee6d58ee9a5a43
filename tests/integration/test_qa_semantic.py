"""QA matching by meaning: the semantic matcher with the real e5 model finds paraphrases of a step's phrases."""

from __future__ import annotations

from voc.qa import PhraseSet


def test_semantic_matcher_with_real_e5_finds_paraphrases():
    from voc.qa import SemanticMatcher
    from voc.semantic import qa_embedder as e5_embedder

    phrases = PhraseSet(("非常抱歉给您带来不便", "感谢您的来电"))
    m = SemanticMatcher(e5_embedder(), threshold=0.0)
    para = m.match(["真是对不起，给您添麻烦了", "谢谢您打电话过来"], phrases)
    other = m.match(["我想问一下流量还剩多少", "好的我帮您查一下"], phrases)
    assert [p.variant for p in para] == ["非常抱歉给您带来不便", "感谢您的来电"]
    assert min(p.similarity for p in para) > max(o.similarity for o in other)
