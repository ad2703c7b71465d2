"""Carving validation and test splits out of train: exact duplicates never land on both sides."""

from goemox.data import load_emotion_dataset


def test_exact_duplicates_are_dropped_before_an_automatic_split(tmp_path):
    rows = [f"text {i},joy" for i in range(30)] + ["same text,anger"] * 12 + ["same text,joy"]
    path = tmp_path / "train.csv"
    path.write_text("text,labels\n" + "\n".join(rows) + "\n", encoding="utf-8")
    splits, report = load_emotion_dataset(train_file=path, return_report=True)
    assert report.duplicates_dropped == 11
    assert sum(report.num_rows.values()) == 32
    pairs = {name: {(row["text"], tuple(row["labels"])) for row in split} for name, split in splits.items()}
    assert not pairs["train"] & pairs["test"] and not pairs["train"] & pairs["validation"]
    assert not pairs["validation"] & pairs["test"]


def test_given_splits_keep_their_rows(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,labels\nsame,joy\nsame,joy\n", encoding="utf-8")
    splits, report = load_emotion_dataset(train_file=path, validation_file=path, test_file=path, return_report=True)
    assert report.duplicates_dropped == 0 and report.num_rows == {"train": 2, "validation": 2, "test": 2}
