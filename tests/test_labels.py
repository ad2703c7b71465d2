"""Tests of goemox.labels: the built-in label schemes, custom JSON schemes and their errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from goemox.errors import GoEmoXError
from goemox.labels import (
    BUILTIN_SCHEMES,
    GOEMOTIONS_LABELS,
    LabelScheme,
    LabelSchemeError,
    UnknownLabelError,
    get_label_scheme,
)


def test_goemotions_labels_in_official_order():
    assert len(GOEMOTIONS_LABELS) == 28
    assert len(set(GOEMOTIONS_LABELS)) == 28
    assert GOEMOTIONS_LABELS[0] == "admiration"
    assert GOEMOTIONS_LABELS[17] == "joy"
    assert GOEMOTIONS_LABELS[25] == "sadness"
    assert GOEMOTIONS_LABELS[27] == "neutral"


def test_goemotions_scheme_is_identity():
    scheme = get_label_scheme("goemotions")
    assert scheme.labels == GOEMOTIONS_LABELS
    assert scheme.source_labels == GOEMOTIONS_LABELS
    for label in GOEMOTIONS_LABELS:
        assert scheme.map_names([label]) == [label]


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("ekman", ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")),
        ("sentiment", ("positive", "negative", "ambiguous", "neutral")),
        (
            "ten",
            ("praise", "amusement", "anger", "disapproval", "confusion", "interest", "sadness", "fear", "joy", "love"),
        ),
    ],
)
def test_builtin_label_order(name, labels):
    scheme = get_label_scheme(name)
    assert scheme.name == name
    assert scheme.labels == labels
    assert scheme.num_labels == len(labels)
    assert scheme.source_labels == GOEMOTIONS_LABELS


@pytest.mark.parametrize("name", ["goemotions", "ekman", "sentiment"])
def test_every_goemotions_label_maps_to_exactly_one_target(name):
    scheme = get_label_scheme(name)
    for label in GOEMOTIONS_LABELS:
        assert len(scheme.map_names([label])) == 1, label


def test_ten_drops_neutral_only():
    scheme = get_label_scheme("ten")
    for label in GOEMOTIONS_LABELS:
        expected = 0 if label == "neutral" else 1
        assert len(scheme.map_names([label])) == expected, label
    assert scheme.mapping["neutral"] == ()


def test_emotions10_is_an_alias_of_ten():
    assert get_label_scheme("emotions10") == get_label_scheme("ten")


EKMAN_GROUPS = {
    "anger": {"anger", "annoyance", "disapproval"},
    "disgust": {"disgust"},
    "fear": {"fear", "nervousness"},
    "joy": {
        "joy",
        "amusement",
        "approval",
        "excitement",
        "gratitude",
        "love",
        "optimism",
        "relief",
        "pride",
        "admiration",
        "desire",
        "caring",
    },
    "sadness": {"sadness", "disappointment", "embarrassment", "grief", "remorse"},
    "surprise": {"surprise", "realization", "confusion", "curiosity"},
    "neutral": {"neutral"},
}
SENTIMENT_GROUPS = {
    "positive": {
        "amusement",
        "excitement",
        "joy",
        "love",
        "desire",
        "optimism",
        "caring",
        "pride",
        "admiration",
        "gratitude",
        "relief",
        "approval",
    },
    "negative": {
        "fear",
        "nervousness",
        "remorse",
        "embarrassment",
        "disappointment",
        "sadness",
        "grief",
        "disgust",
        "anger",
        "annoyance",
        "disapproval",
    },
    "ambiguous": {"realization", "surprise", "curiosity", "confusion"},
    "neutral": {"neutral"},
}
TEN_GROUPS = {
    "praise": {"admiration", "approval", "gratitude"},
    "amusement": {"amusement"},
    "anger": {"anger", "annoyance", "disgust"},
    "disapproval": {"disapproval"},
    "confusion": {"confusion"},
    "interest": {"curiosity", "desire", "surprise", "realization"},
    "sadness": {"sadness", "grief", "disappointment", "remorse", "embarrassment"},
    "fear": {"fear", "nervousness"},
    "joy": {"joy", "excitement", "optimism", "relief", "pride"},
    "love": {"love", "caring"},
}


@pytest.mark.parametrize(
    ("name", "groups"), [("ekman", EKMAN_GROUPS), ("sentiment", SENTIMENT_GROUPS), ("ten", TEN_GROUPS)]
)
def test_builtin_mappings_match_the_documented_groups(name, groups):
    scheme = get_label_scheme(name)
    for target, sources in groups.items():
        for source in sources:
            assert scheme.map_names([source]) == [target], source
        assert {s for s in GOEMOTIONS_LABELS if scheme.map_names([s]) == [target]} == sources


def test_map_names_dedupes_in_scheme_order_and_accepts_targets():
    scheme = get_label_scheme("ekman")
    names = ["neutral", "grief", "amusement", "joy", "remorse"]
    assert scheme.map_names(names) == ["joy", "sadness", "neutral"]
    assert scheme.map_names([]) == []
    # "interest" is a target of "ten" but not a GoEmotions label: it stands for itself.
    assert get_label_scheme("ten").map_names(["interest", "praise"]) == ["praise", "interest"]


def test_map_names_unknown_label_lists_valid_names():
    scheme = get_label_scheme("ekman")
    with pytest.raises(UnknownLabelError) as info:
        scheme.map_names(["joy", "happyness"])
    message = str(info.value)
    assert "'happyness'" in message and "ekman" in message
    assert "admiration" in message and "surprise" in message
    assert info.value.label == "happyness"
    assert "joy" in info.value.valid
    assert isinstance(info.value, ValueError) and isinstance(info.value, GoEmoXError)


def test_label_from_id():
    scheme = get_label_scheme("ekman")
    assert scheme.label_from_id(0) == "admiration"
    assert scheme.label_from_id(27) == "neutral"
    for bad in (28, -1, True, "3"):
        with pytest.raises(UnknownLabelError, match=r"out of range.*0\.\.27"):
            scheme.label_from_id(bad)


def test_label2id_and_id2label():
    scheme = get_label_scheme("sentiment")
    assert scheme.label2id == {"positive": 0, "negative": 1, "ambiguous": 2, "neutral": 3}
    assert scheme.id2label == {0: "positive", 1: "negative", 2: "ambiguous", 3: "neutral"}


@pytest.mark.parametrize("name", BUILTIN_SCHEMES)
def test_to_dict_round_trip_through_json(name):
    scheme = get_label_scheme(name)
    restored = LabelScheme.from_dict(json.loads(json.dumps(scheme.to_dict())))
    assert restored == scheme
    assert hash(restored) == hash(scheme)
    assert restored.map_names(GOEMOTIONS_LABELS) == scheme.map_names(GOEMOTIONS_LABELS)


def test_scheme_is_frozen():
    scheme = get_label_scheme("ekman")
    with pytest.raises(AttributeError):
        scheme.name = "other"


def test_builtin_schemes_are_independent_copies():
    get_label_scheme("ekman").mapping["grief"] = ("joy",)
    assert get_label_scheme("ekman").map_names(["grief"]) == ["sadness"]


def test_unknown_label_error_pickles():
    error = UnknownLabelError("x", ["a", "b"], "unknown label 'x'")
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == "unknown label 'x'" and restored.label == "x" and restored.valid == ("a", "b")


def test_unknown_scheme_name_lists_builtins():
    with pytest.raises(LabelSchemeError) as info:
        get_label_scheme("plutchik")
    message = str(info.value)
    assert "'plutchik'" in message
    for name in BUILTIN_SCHEMES:
        assert name in message


# ---------------------------------------------------------------------------------------------------------
# Custom schemes from JSON files
# ---------------------------------------------------------------------------------------------------------


def write_scheme(tmp_path: Path, content: dict | str, name: str = "valence.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


VALENCE = {
    "name": "valence",
    "labels": ["pleasant", "unpleasant"],
    "mapping": {"joy": ["pleasant"], "love": ["pleasant"], "anger": ["unpleasant"], "neutral": []},
}


def test_custom_scheme_from_json(tmp_path):
    scheme = get_label_scheme(write_scheme(tmp_path, VALENCE))
    assert scheme.name == "valence"
    assert scheme.labels == ("pleasant", "unpleasant")
    assert scheme.source_labels == GOEMOTIONS_LABELS
    assert scheme.map_names(["joy", "anger", "love"]) == ["pleasant", "unpleasant"]
    assert scheme.map_names(["neutral"]) == []
    assert scheme.map_names(["unpleasant"]) == ["unpleasant"]
    with pytest.raises(UnknownLabelError, match="'grief'"):
        scheme.map_names(["grief"])


def test_custom_scheme_with_source_labels_and_default_name(tmp_path):
    content = {"labels": ["up", "down"], "mapping": {"good": ["up"], "bad": ["down"]}, "source_labels": ["good", "bad"]}
    scheme = get_label_scheme(str(write_scheme(tmp_path, content, name="polarity.json")))
    assert scheme.name == "polarity"
    assert scheme.label_from_id(1) == "bad"
    with pytest.raises(UnknownLabelError, match=r"0\.\.1"):
        scheme.label_from_id(2)


def test_custom_scheme_without_mapping_uses_label_names(tmp_path):
    scheme = get_label_scheme(write_scheme(tmp_path, {"name": "mine", "labels": ["a", "b"]}))
    assert scheme.mapping == {}
    assert scheme.map_names(["b", "a"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"name": "x", "mapping": {}}, "labels"),
        ({"name": "x", "labels": "joy"}, "labels"),
        ({"name": "x", "labels": []}, "labels"),
        ({"name": "x", "labels": ["joy", "joy"]}, "labels"),
        ({"name": "x", "labels": ["joy", ""]}, "labels"),
        ({"name": "x", "labels": ["joy"], "mapping": {"love": ["happiness"]}}, "mapping"),
        ({"name": "x", "labels": ["joy"], "mapping": {"love": "joy"}}, "mapping"),
        ({"name": "x", "labels": ["joy"], "mapping": ["joy"]}, "mapping"),
        ({"name": "x", "labels": ["joy"], "source_labels": ["a", "a"]}, "source_labels"),
        ({"name": "", "labels": ["joy"]}, "name"),
        ({"name": "x", "labels": ["joy"], "maping": {}}, "maping"),
    ],
)
def test_invalid_custom_scheme_names_file_and_field(tmp_path, content, field):
    path = write_scheme(tmp_path, content)
    with pytest.raises(LabelSchemeError) as info:
        get_label_scheme(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}:"), message


def test_invalid_json_scheme_names_file_and_line(tmp_path):
    path = write_scheme(tmp_path, '{\n  "name": "x",\n  "labels": ["joy",]\n}')
    with pytest.raises(LabelSchemeError, match=rf"^{path}:3: invalid JSON"):
        get_label_scheme(path)


def test_scheme_file_that_is_not_an_object(tmp_path):
    path = write_scheme(tmp_path, '["joy"]')
    with pytest.raises(LabelSchemeError, match=rf"^{path}: expected a JSON object"):
        get_label_scheme(path)


def test_unreadable_scheme_file(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b'{"name": "\xff"}')
    with pytest.raises(LabelSchemeError, match=rf"^{path}: .*not UTF-8"):
        get_label_scheme(path)
    with pytest.raises(LabelSchemeError, match="not a built-in scheme"):
        get_label_scheme(tmp_path / "missing.json")


def test_direct_construction_validates_and_normalises():
    scheme = LabelScheme("pair", ["a", "b"], {"x": ["b", "a", "b"]}, ["x"])
    assert scheme.labels == ("a", "b")
    assert scheme.mapping == {"x": ("b", "a")}
    assert scheme.map_names(["x"]) == ["a", "b"]
    with pytest.raises(LabelSchemeError, match="mapping: 'x' maps to \\['c'\\]"):
        LabelScheme("pair", ("a", "b"), {"x": ("c",)})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"name": "x", "labels": ["up"], "mapping": {"gooood": ["up"]}, "source_labels": ["good", "bad"]},
            "mapping: source label 'gooood' is not in source_labels (good, bad)",
        ),
        (
            {"name": "x", "labels": ["up"], "mapping": {"joyy": ["up"]}},
            "mapping: source label 'joyy' is not in source_labels (admiration, ",
        ),
        (
            {"name": "x", "labels": ["up"], "mapping": {"good": ["down"]}, "source_labels": ["good"]},
            "mapping: 'good' maps to ['down'], which are not in labels ['up']",
        ),
    ],
)
def test_scheme_file_mapping_unknown_source_or_target_names_file_and_key(tmp_path, content, message):
    path = write_scheme(tmp_path, content)
    with pytest.raises(LabelSchemeError) as info:
        get_label_scheme(path)
    assert str(info.value).startswith(f"{path}: {message}"), str(info.value)


def test_a_swap_is_applied_once_in_parallel_and_exchanges_the_labels(tmp_path):
    content = {"labels": ["pos", "neg"], "mapping": {"pos": ["neg"], "neg": ["pos"]}, "source_labels": ["pos", "neg"]}
    scheme = get_label_scheme(write_scheme(tmp_path, content, name="swap.json"))
    assert scheme.map_names(["pos"]) == ["neg"]
    assert scheme.map_names(["neg"]) == ["pos"]
    assert scheme.map_names(["pos", "neg"]) == ["pos", "neg"]
    assert scheme.map_names([scheme.label_from_id(0)]) == ["neg"]
