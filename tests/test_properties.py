"""Property-based checks of the core: the parser and the query path take anything."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.archive import Archive
from bot.articles import _CAPTION, ArticleError, _is_caption, _one_spaced, parse_bytes, parse_text
from bot.cli import main
from bot.query import parse_query
from bot.settings import Settings
from bot.text import _POSSESSIVE, index_text, iter_tokens, tokens, word_spans

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

hostile_text = st.one_of(
    st.text(max_size=2000),
    st.lists(
        st.sampled_from(
            [
                "<!channel>",
                "<@U123>",
                "<http://x|y>",
                "&amp;",
                "&",
                "<",
                ">",
                '"',
                "*",
                "NEAR(",
                " AND ",
                " OR ",
                "NOT",
                "'; DROP TABLE passages; --",
                "\x00",
                "\x1b[2J",
                "\u202e",
                "author: X",
                "tend: 12",
                "FILE - x (AP Photo/Y)",
                "\n",
                "\n\n",
                "\r\n",
                "Sávaré",
                "2,700",
                "mercinaries",
                "🇫🇷",
                "ß",
                "İ",
                "\ufeff",
                "_",
                "__",
                "-",
                "-wagner",
                ' "',
                "by:",
                "author:brooke",
                "after:2023-09-01",
                "before:2023-02-30",
                "after:x",
                ":",
                'by:"',
            ]
        ),
        max_size=60,
    ).map("".join),
)


@given(st.binary(max_size=4000))
@settings(max_examples=300, deadline=None)
def test_parser_never_raises_anything_but_article_error(data: bytes) -> None:
    try:
        article = parse_bytes(data, "x.txt")
    except ArticleError:
        return
    assert article.title and article.paragraphs
    assert all(p.strip() for p in article.paragraphs)
    assert not set(article.captions) & set(article.paragraphs)


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_parser_on_hostile_text(text: str) -> None:
    try:
        article = parse_text(text, "x.txt")
    except ArticleError:
        return
    assert "\n" not in article.title
    assert all("\n" not in p for p in article.paragraphs)


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_tokens_and_spans_stay_inside_the_text(text: str) -> None:
    wanted = set(tokens(text)[:5])
    spans = word_spans(text, wanted)
    for start, end in spans:
        assert 0 <= start < end <= len(text)
    assert [s for s, _ in spans] == sorted(s for s, _ in spans)
    # The ASCII shortcut finds exactly what the general path finds.
    assert spans == tuple((s, e) for s, e, t in iter_tokens(text) if t in wanted)
    for start, end, token in iter_tokens(text):
        assert token and text[start:end]
    without_possessives = _POSSESSIVE.sub("", text)
    assert tokens(text) == [t for _, _, t in iter_tokens(without_possessives)]


@given(
    st.one_of(
        hostile_text,
        st.lists(
            st.sampled_from(["FILE - ", " file — ", "(AP Photo/Jo)", "(Photo: x)", "(", ")", "a"]),
            max_size=6,
        ).map("".join),
    )
)
@settings(max_examples=300, deadline=None)
def test_the_caption_shortcut_is_the_caption_regex(line: str) -> None:
    assert _is_caption(line) == (_CAPTION.search(line) is not None)


# News-like ASCII: words, numbers with separators and units, punctuation, possessives.
ascii_news = st.lists(
    st.one_of(
        st.sampled_from(["Council", "attack's", "2,700", "1,5", "3.5", "7.6m", "42bn", "4.2%"]),
        st.sampled_from(["£", "$", ". ", ", ", " ", "-", "'", "'s ", "a1,234", "x" * 41, "_"]),
        st.text(alphabet="ab1,. '", max_size=8),
    ),
    max_size=30,
).map("".join)


@given(ascii_news)
@settings(max_examples=500, deadline=None)
def test_the_ascii_shortcut_of_tokens_is_the_token_regex(text: str) -> None:
    without_possessives = _POSSESSIVE.sub("", text)
    assert tokens(text) == [t for _, _, t in iter_tokens(without_possessives)]
    assert index_text(text).split() == " ".join(tokens(text)).split()


# Runs the bytes shortcut must hand to the token regex: numbers, underscores, letters outside
# ASCII ("?" stands for them once encoded), overlong words; and what borders them.
mixed_news = st.lists(
    st.sampled_from(
        [
            *("2,700", "1.5.3", "a1.5", "7.6m2", "_x_", "é", "Kraków", "?", "ß", "\ufdfa", "¼"),
            *("x" * 41, "1" * 41, "İ", " ", ".", ",", "-", "'s", "’s", "ab", "9"),
        ]
    ),
    max_size=25,
).map("".join)


@given(st.one_of(mixed_news, hostile_text))
@settings(max_examples=500, deadline=None)
def test_the_index_text_has_the_tokens_of_the_token_regex(text: str) -> None:
    want = [t for _, _, t in iter_tokens(_POSSESSIVE.sub("", text))]
    assert tokens(text) == want
    # A token that folding split with a space ("\ufdfa") is several words in the index.
    assert index_text(text).split() == " ".join(want).split()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("prop")
    shutil.copytree(SEEDS, root / "seeds")
    a = Archive.open(Settings(db_path=root / "n.db", articles_dir=root / "seeds"))
    a.ingest()
    yield a
    a.close()


@given(query=hostile_text, limit=st.integers(-5, 100), offset=st.integers(-5, 500))
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_query_gives_a_result_never_an_exception(
    archive: Archive, query: str, limit: int, offset: int
) -> None:
    result = archive.search(query, limit=limit, offset=offset)
    assert len(result.hits) <= 50
    assert result.hits or result.hint
    for hit in result.hits:
        assert all(0 <= s < e <= len(hit.text) for s, e in hit.spans)


@given(query=hostile_text)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_cli_search_answers_any_query_with_valid_json(
    archive: Archive, query: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_ = archive.settings
    if "\x00" in query:  # a command-line argument cannot hold NUL; --batch can
        query = query.replace("\x00", " ")
    argv = ["--db", str(settings_.db_path), "--articles", str(settings_.articles_dir)]
    code = main([*argv, "search", "--json", "--", query])
    out = capsys.readouterr()
    if parse_query(query).error:  # a malformed filter: one line saying how to write it
        assert code == 1 and out.out == ""
        assert out.err.startswith("newsbot: ") and out.err.count("\n") == 1
        return
    assert code == 0, out.err
    doc = json.loads(out.out)
    assert doc["query"] == query and isinstance(doc["hits"], list)
    assert "Traceback" not in out.err


@given(st.one_of(hostile_text, st.text(alphabet=" \t\xa0\u2028\x85\x1fab", max_size=30)))
@settings(max_examples=500, deadline=None)
def test_a_paragraph_kept_as_it_is_has_single_spaces_only(text: str) -> None:
    text = text.strip()
    assert _one_spaced(text) == " ".join(text.split())
