"""``arsip history --diff`` on long texts: seconds of ``word_diff`` for synthetic articles of
2,000, 5,000 and 10,000 words with 20 scattered one-word edits, in paragraphs of about 80 words
(a live blog) and as one paragraph (no line breaks at all).

    python bench/textdiff.py [--words 2000,5000,10000] [--edits 20]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.textdiff import word_diff

# Indonesian news vocabulary, so common words repeat as they do in a real article
WORDS = ("yang di dan itu dengan untuk tidak ini dari dalam akan pada juga kata pemerintah "
         "presiden menteri jakarta banjir warga polisi rumah sakit sekolah harga beras naik "
         "turun rapat dewan daerah kota provinsi tahun bulan hari minggu laporan sumber resmi "
         "menurut setelah sebelum masih sudah belum bisa harus akan para mereka kami").split()


def article(words: int, rng: random.Random, per_paragraph: int) -> list[str]:
    """``words`` words as sentences of 8-20 words; a newline every ~``per_paragraph`` words."""
    out: list[str] = []
    sentence = 0
    for k in range(words):
        word = rng.choice(WORDS)
        out.append(word.capitalize() if sentence == 0 else word)
        sentence += 1
        if sentence >= rng.randint(8, 20):
            out[-1] += "."
            sentence = 0
            if per_paragraph and (k + 1) % per_paragraph < 20:
                out[-1] += "\n"
    return out


def text_of(tokens: list[str]) -> str:
    return "".join(t + ("" if t.endswith("\n") else " ") for t in tokens).strip()


def run(words: int, edits: int, per_paragraph: int) -> float:
    rng = random.Random(words)
    old = article(words, rng, per_paragraph)
    new = list(old)
    for at in rng.sample(range(words), edits):
        new[at] = "DIUBAH" + new[at][len(new[at].rstrip(".\n")):]
    a, b = text_of(old), text_of(new)
    start = time.perf_counter()
    pieces = word_diff(a, b)
    seconds = time.perf_counter() - start
    assert "".join(p.text for p in pieces if p.op != "insert") == a
    assert "".join(p.text for p in pieces if p.op != "delete") == b
    assert sum(p.op == "insert" for p in pieces) == edits
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", default="2000,5000,10000")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--layouts", default="paragraphs,one-paragraph")
    args = parser.parse_args()
    for layout in args.layouts.split(","):
        for words in (int(w) for w in args.words.split(",")):
            seconds = run(words, args.edits, 80 if layout == "paragraphs" else 0)
            print(f"{layout:14} {words:6} words, {args.edits} edits: {seconds:8.3f} s",
                  flush=True)


if __name__ == "__main__":
    main()
