"""Site profiles: parsing, validation and lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.errors import ProfileError
from crawler.sites import load_profile, parse_profile


def test_bundled_profile_loads() -> None:
    profile = load_profile("kudakyv")
    assert profile.base_url == "https://kudakyv.com/"
    assert profile.feeds == ("https://kudakyv.com/feed/",)
    assert ".sharedaddy" in profile.extraction.remove_selectors
    assert profile.denies("https://kudakyv.com/category/internasional/")


def test_profile_from_data_dir_wins(tmp_path: Path) -> None:
    (tmp_path / "kudakyv.toml").write_text('base_url = "http://127.0.0.1:9/"\n', encoding="utf-8")
    assert load_profile("kudakyv", (tmp_path,)).base_url == "http://127.0.0.1:9/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base_url = ", "not valid TOML"),
        ('name = "x"', "'base_url' is required"),
        ('base_url = "ftp://x/"', r"not an absolute http\(s\) URL"),
        ('base_url = "https://x/"\n[articles]\nallow = ["("]', "bad article pattern"),
        ('base_url = "https://x/"\nfeeds = [1]', "'feeds' must be a list of strings"),
    ],
)
def test_bad_profiles_get_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(text)


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match="no site profile named 'nope'"):
        load_profile("nope")
