"""The index's stem field gets its text stemmed in Python (each distinct word once) instead of
through the stem analyzer: the same terms, frequencies and lengths, so the same BM25 scores."""

from __future__ import annotations

from pathlib import Path

import tantivy

from bot.index import PassageIndex, WordQuery
from bot.text import index_text, stem, stem_analyzer, tokens

# The name index format v6 registered the stem analyzer under.
V6_STEM_ANALYZER = "newsbot_stem"

TEXTS = [
    "Mercenaries attacked the colony; the attack's economies and economy attacking colonies.",
    "Gaddafi's forces attack again: 2,700 attacks, £42bn, 4.2% and 60% of Kraków's councils.",
    "Sávaré and Krakow report universities, university, generalization and generalizations.",
    "A ligature \ufdfa folds to words with spaces; ¼ and ⑴ fold to punctuation.",
    "running runs ran runner flies flying fly flew studies studying studied",
]


def _analyzer_index(path: Path) -> tuple[tantivy.Searcher, tantivy.Schema]:
    """The stem field as index format v6 made it: the body's tokens through the analyzer."""
    b = tantivy.SchemaBuilder()
    b.add_text_field("stem", stored=False, tokenizer_name=V6_STEM_ANALYZER, index_option="freq")
    path.mkdir()
    index = tantivy.Index(b.build(), str(path))
    index.register_tokenizer(V6_STEM_ANALYZER, stem_analyzer())
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    for text in TEXTS:
        writer.add_document(tantivy.Document(stem=index_text(text)))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index.searcher(), index.schema


def test_the_stem_field_scores_as_the_analyzer_made_it(tmp_path: Path) -> None:
    old, old_schema = _analyzer_index(tmp_path / "old")
    index = PassageIndex(tmp_path / "new")
    writer = index.writer()
    rows = [(i, i, tokens(t), "", "", 0) for i, t in enumerate(TEXTS)]
    index.replace_articles(writer, (), rows)
    index.commit(writer)
    index.refresh()
    new = index.index.searcher()
    Q, schema = tantivy.Query, index.schema
    terms = {s for t in TEXTS for w in index_text(t).split() for s in stem_analyzer().analyze(w)}
    assert len(terms) > 30
    for term in sorted(terms):
        assert new.doc_freq("stem", term) == old.doc_freq("stem", term), term
        got = new.search(Q.term_query(schema, "stem", term), 10).hits
        want = old.search(Q.term_query(old_schema, "stem", term), 10).hits
        assert [(round(s, 5), a.doc) for s, a in got] == [(round(s, 5), a.doc) for s, a in want]
    # The words met on the way are what the vocabulary learnt (typo matching).
    words = {w for t in TEXTS for w in index_text(t).split() if len(w) >= 3}
    assert index.vocab.num_words() == len(words)
    assert index.expand(WordQuery("atacks", 1)) == (("attacks", 1),)
    assert stem("attacks") in terms
