"""`goemox data stats` on small files with known counts, emoji and multi-label rows."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from goemox.cli import main
from goemox.data.stats import cooccurrence_counts, emoji_name, find_emoji, label_cardinality, length_summary, top_pairs
from goemox.data.stats_report import percent

TRAIN = [
    ("i love this", "love"),  # 5 tokens with [CLS] and [SEP]
    ("thank you so much 😂😂", "gratitude,joy"),  # 8
    ("why would you do that", "anger,annoyance,disapproval"),  # 7
    ("i am so happy for you ❤️", "joy,love"),  # 9
    ("this is awful", "disgust"),  # 5
    ("so funny 😂", "amusement,joy"),  # 5
    ("what", "neutral"),  # 3
]
VALIDATION = [("i love this 👍🏽", "love"), ("why would you do that", "anger")]
TEST = [("what", "neutral")]


def write_csv(path: Path, rows) -> Path:
    lines = ["text,labels"] + [f'"{text}","{labels}"' for text, labels in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def data_files(tmp_path, tiny_tokenizer) -> dict[str, Path]:
    tiny_tokenizer.save_pretrained(tmp_path / "tokenizer")
    return {
        "train": write_csv(tmp_path / "train.csv", TRAIN),
        "validation": write_csv(tmp_path / "validation.csv", VALIDATION),
        "test": write_csv(tmp_path / "test.csv", TEST),
        "tokenizer": tmp_path / "tokenizer",
    }


def stats_args(files: dict[str, Path], output: Path, *extra: str) -> list[str]:
    return [
        "data",
        "stats",
        "--train_file",
        str(files["train"]),
        "--validation_file",
        str(files["validation"]),
        "--test_file",
        str(files["test"]),
        "--tokenizer",
        str(files["tokenizer"]),
        "--max_length",
        "6",
        "--output_dir",
        str(output),
        *extra,
    ]


def linked_images(report: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text(encoding="utf-8"))


def test_find_emoji_handles_sequences_and_skips_text_symbols():
    text = "family 👨‍👩‍👧 ok 👍🏽👍 ❤️ and ❤ flag 🇫🇷 key 1️⃣ #2 © ™ ‼ but ™️ ☺"
    assert find_emoji(text) == ["👨\u200d👩\u200d👧", "👍🏽", "👍", "❤", "❤", "🇫🇷", "1\u20e3", "™", "☺"]
    assert find_emoji("plain text, 123 #tag *bold*") == []
    assert emoji_name("🇫🇷") == "flag FR"
    assert emoji_name("👍🏽") == "thumbs up sign + skin tone type-4"
    assert emoji_name("👨\u200d👩\u200d👧") == "man + woman + girl"


def test_cardinality_cooccurrence_lengths_and_pairs():
    labels = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0], [0, 1, 0]])
    cardinality = label_cardinality(labels)
    assert {k: v["rows"] for k, v in cardinality.items()} == {"0": 1, "1": 2, "2": 1, "3+": 1}
    assert cardinality["1"]["share"] == pytest.approx(0.4)
    assert cooccurrence_counts(labels).tolist() == [[3, 2, 1], [2, 3, 1], [1, 1, 1]]
    assert top_pairs(cooccurrence_counts(labels), ["a", "b", "c"]) == [("a", "b", 2), ("a", "c", 1), ("b", "c", 1)]
    summary = length_summary(np.array([3, 5, 5, 12, 40]), max_length=10)
    assert summary["truncated_rows"] == 2 and summary["truncated_share"] == pytest.approx(0.4)
    assert (summary["median"], summary["max"], summary["mean"]) == (5.0, 40, 13.0)
    assert summary["histogram"] == {"3": 1, "5": 2, "12": 1, "40": 1}
    assert (percent(0.0), percent(0.25), percent(1 / 43410)) == ("0.00%", "25.00%", "0.0023%")


def test_cli_writes_exact_numbers_plots_and_report(data_files, tmp_path, capsys):
    output = tmp_path / "stats"
    assert main(stats_args(data_files, output)) == 0, capsys.readouterr().err
    stats = json.loads((output / "stats.json").read_text(encoding="utf-8"))
    assert list(stats["splits"]) == ["train", "validation", "test"]
    train = stats["splits"]["train"]
    assert train["rows"] == 7
    nonzero = {label: n for label, n in train["label_counts"].items() if n}
    assert nonzero == {
        "amusement": 1,
        "anger": 1,
        "annoyance": 1,
        "disapproval": 1,
        "disgust": 1,
        "gratitude": 1,
        "joy": 3,
        "love": 2,
        "neutral": 1,
    }
    assert {k: v["rows"] for k, v in train["cardinality"].items()} == {"0": 0, "1": 3, "2": 3, "3+": 1}
    assert train["cardinality"]["2"]["share"] == pytest.approx(3 / 7)
    names = stats["labels"]
    matrix = np.array(train["cooccurrence"])
    assert matrix[names.index("joy"), names.index("love")] == 1
    assert matrix[names.index("joy"), names.index("joy")] == 3
    assert matrix[names.index("anger"), names.index("disapproval")] == 1
    assert matrix[names.index("love"), names.index("anger")] == 0
    lengths = train["token_length"]
    assert lengths["histogram"] == {"3": 1, "5": 3, "7": 1, "8": 1, "9": 1}
    assert lengths["truncated_rows"] == 3 and lengths["truncated_share"] == pytest.approx(3 / 7)
    emoji = train["emoji"]
    assert (emoji["rows_with_emoji"], emoji["occurrences"], emoji["distinct"]) == (3, 4, 2)
    first, second = emoji["top"]
    assert (first["emoji"], first["rows"], first["occurrences"]) == ("😂", 2, 3)
    assert {k: v for k, v in first["label_counts"].items() if v} == {"amusement": 1, "gratitude": 1, "joy": 2}
    assert (second["emoji"], second["rows"], second["name"]) == ("❤", 1, "heavy black heart")
    assert first["tokenizer_unknown"] is False
    assert stats["splits"]["validation"]["emoji"]["top"][0]["tokenizer_unknown"] is True  # 👍🏽 is not in the vocab

    report = output / "report.md"
    images = linked_images(report)
    assert len(images) == 3 * 5 - 1  # the test split has no emoji, so no emoji heatmap
    for image in images:
        assert (output / image).read_bytes()[:4] == b"\x89PNG"
    text = report.read_text(encoding="utf-8")
    assert "| train | 7 | 0.00% | 42.86% | 42.86% | 14.29% |" in text
    assert "| 😂 | face with tears of joy | 2 | 3 | joy 100%, amusement 50%, gratitude 50% | known tokens |" in text


def test_cli_refuses_to_overwrite_a_report(data_files, tmp_path, capsys):
    output = tmp_path / "stats"
    assert main(stats_args(data_files, output, "--splits", "test")) == 0
    capsys.readouterr()
    assert main(stats_args(data_files, output, "--splits", "test")) == 2
    err = capsys.readouterr().err
    assert "already holds files (report.md, stats.json" in err and "pass --overwrite" in err
    assert main(stats_args(data_files, output, "--splits", "train", "--overwrite")) == 0
    assert list(json.loads((output / "stats.json").read_text())["splits"]) == ["train"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--splits", "train,dev"], "the data has no 'dev' split; it has ['test', 'train', 'validation']"),
        (["--label_column", "emotions"], "train.csv:1: no label column 'emotions' in the header"),
        (["--tokenizer", "{tmp}/no-tokenizer"], "no-tokenizer: not a tokenizer folder"),
    ],
)
def test_cli_bad_input_is_one_clear_line(data_files, tmp_path, capsys, extra, message):
    (tmp_path / "no-tokenizer").mkdir()
    args = stats_args(data_files, tmp_path / "out", *[e.format(tmp=tmp_path) for e in extra])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("goemox: error: ") and message in err
    assert err.count("\n") == 1


def test_cli_rejects_a_file_as_output_folder(data_files, tmp_path, capsys):
    (tmp_path / "taken").write_text("mine")
    assert main(stats_args(data_files, tmp_path / "taken")) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert main(stats_args(data_files, tmp_path / "taken" / "sub")) == 2
    assert "taken is not a folder" in capsys.readouterr().err  # a file where a parent folder should be
    assert (tmp_path / "taken").read_text() == "mine"
