"""The article parser on the seeds, on plain files and on every kind of bad file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.articles import ArticleError, parse_article, parse_bytes

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def test_seed_without_metadata() -> None:
    a = parse_article(SEEDS / "000_b63c83e36970c003.txt")
    assert a.title == "France has withdrawn its last troops from Mali"
    assert a.dek is None
    assert a.author is None and a.published is None
    assert len(a.paragraphs) == 5
    assert a.paragraphs[0].startswith("IN JANUARY 2013 French forces entered Mali")
    assert a.paragraphs[-1].endswith("is far from clear.")


def test_seed_with_dek_metadata_caption_and_tend() -> None:
    a = parse_article(SEEDS / "003_89b01d93bc535f51.txt")
    assert a.title == "Has President Macron abandoned Mali to the jihadists?"
    assert a.dek is not None and a.dek.startswith("The withdrawal of the French military")
    assert a.paragraphs[0] == a.dek  # the standfirst is paragraph 0 and searchable
    assert a.author == "Thomas Brooke"
    assert a.editor == "REMIX NEWS"
    assert a.published == datetime.fromtimestamp(1695477876.6577, tz=UTC)
    assert a.published.date().isoformat() == "2023-09-23"
    assert len(a.captions) == 1 and a.captions[0].startswith("FILE - French Barkhane")
    assert all("AP Photo" not in p for p in a.paragraphs)
    assert all(not p.startswith(("author:", "editor:", "tend:")) for p in a.paragraphs)
    assert a.paragraphs[1].startswith("France ended its nine-year military deployment")
    assert a.paragraphs[-1].startswith("“The war (the Malian army)")
    assert len(a.paragraphs) == 13


def test_plain_title_blank_paragraphs_file_with_crlf() -> None:
    data = b"Ad sales boost Time Warner profit\r\n\r\nQuarterly profits rose 76%.\r\n\r\nIt said."
    a = parse_bytes(data, "x.txt")
    assert a.title == "Ad sales boost Time Warner profit"
    assert a.paragraphs == ("Quarterly profits rose 76%.", "It said.")
    assert a.dek is None


def test_headline_that_looks_like_metadata_is_a_headline() -> None:
    a = parse_bytes(b"Author: the life of David Blunkett\n\nHe was a minister.\n", "p.txt")
    assert a.title == "Author: the life of David Blunkett"
    assert a.author is None
    a = parse_bytes(b"Profile: David Blunkett\n\nHe was home secretary.\n", "p.txt")
    assert a.title == "Profile: David Blunkett"


def test_metadata_sharing_a_block_and_at_the_end() -> None:
    text = (
        "Storm hits coast\n\n"
        "A storm hit the coast on Monday.\nauthor: Jane Doe\nsource: Coast Times\n\n"
        "Thousands lost power.\n\n"
        "date: 2024-03-01\nurl: https://example.org/storm\n"
    )
    a = parse_bytes(text.encode(), "s.txt")
    assert a.author == "Jane Doe" and a.source == "Coast Times"
    assert a.url == "https://example.org/storm"
    assert a.published == datetime(2024, 3, 1, tzinfo=UTC)
    assert a.paragraphs == ("A storm hit the coast on Monday.", "Thousands lost power.")


def test_body_line_starting_with_a_key_is_kept_when_it_is_prose() -> None:
    text = "Budget\n\nSource: the treasury said on Monday that it would cut spending.\n"
    a = parse_bytes(text.encode(), "b.txt")
    assert a.source is None
    assert a.paragraphs[0].startswith("Source: the treasury said")


def test_utf8_file_with_a_cut_character_stays_utf8() -> None:
    data = "Café owners\n\nThe café in Sávaré is closed. Ünïcödé".encode()[:-1]
    a = parse_bytes(data, "t.txt")
    assert a.title == "Café owners"
    assert a.paragraphs[0].startswith("The café in Sávaré is closed.")
    assert a.warnings and "1 bad byte(s) replaced" in a.warnings[0]


def test_cp1252_file_is_read_with_a_warning() -> None:
    a = parse_bytes("Price rise\n\nIt costs £5 now.\n".encode("cp1252"), "c.txt")
    assert a.paragraphs == ("It costs £5 now.",)
    assert a.warnings and "cp1252" in a.warnings[0]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n \r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"Only a headline\n", "no body"),
    ],
)
def test_bad_bytes_raise_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ArticleError, match=reason):
        parse_bytes(data, "bad.txt")


def test_bad_files_raise_with_a_reason(tmp_path: Path) -> None:
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(ArticleError, match="not a regular file"):
        parse_article(folder)
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"Huge\n\n" + b"word " * 1_200_000)
    with pytest.raises(ArticleError, match="too large"):
        parse_article(huge)
    with pytest.raises(ArticleError, match="not a regular file"):
        parse_article(tmp_path / "missing.txt")
