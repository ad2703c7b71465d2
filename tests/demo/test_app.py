"""The web demo: the page's logic through Streamlit's AppTest, and one run in a real headless Chromium."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from browser import chromium_paths, headless_chromium
from conftest import free_port, starts_processes
from streamlit.testing.v1 import AppTest
from transformers import AutoTokenizer

from goemox import GoEmoXForSequenceClassification
from goemox.evaluation.metrics import tune_per_class_thresholds
from goemox.inference.classifier import EmotionClassifier
from goemox.labels import LabelScheme

APP = Path(__file__).resolve().parents[2] / "goemox" / "demo" / "app.py"
KEYWORDS = {"joy": ["happy", "glad"], "anger": ["furious", "angry"], "fear": ["scared", "afraid"], "surprise": ["wow"]}
FILLER = [
    "the",
    "today",
    "we",
    "house",
    "weekend",
    "morning",
    "after",
    "dinner",
    "lunch",
    "train",
    "book",
    "really",
    "was",
    "so",
    "and",
    "i",
]
LABELS = list(KEYWORDS)
# Three keyword families at once; the model's strict stored threshold for anger then decides what is predicted.
BROWSER_TEXT = "so happy and furious and scared after dinner"
STRICT_ANGER_THRESHOLD = 0.995


def keyword_rows(count: int, seed: int) -> list[tuple[str, list[float]]]:
    """Texts of filler words plus a keyword for each of their labels (each label with probability 0.3)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        labels = [label for label in LABELS if rng.random() < 0.3]
        words = [rng.choice(KEYWORDS[label]) for label in labels] + rng.sample(FILLER, 4)
        rng.shuffle(words)
        rows.append((" ".join(words), [float(label in labels) for label in LABELS]))
    return rows


@contextmanager
def one_torch_thread():
    """A tiny model trains several times faster on one thread than on two cores that other work keeps busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def four_label_model(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> Path:
    """A tiny goemox model trained here to tell joy / anger / fear / surprise keywords apart (a few seconds).

    Its thresholds are tuned on held-out synthetic rows, then anger's is made strict, so that the stored thresholds
    (not 0.5) decide the labels of `BROWSER_TEXT`.
    """
    torch.manual_seed(0)
    scheme = LabelScheme(name="keywords", labels=tuple(LABELS), mapping={})
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), scheme, pooling="mean")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    train = keyword_rows(400, seed=0)
    model.train()
    with one_torch_thread():
        for step in range(200):
            batch = random.Random(step).sample(train, 32)
            inputs = tiny_tokenizer([text for text, _ in batch], padding=True, return_tensors="pt")
            loss = model(**inputs, labels=torch.tensor([targets for _, targets in batch])).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        validation = keyword_rows(200, seed=1)
        probabilities = EmotionClassifier(model, tiny_tokenizer).predict_proba([text for text, _ in validation])
    thresholds = tune_per_class_thresholds([targets for _, targets in validation], probabilities)
    thresholds[LABELS.index("anger")] = STRICT_ANGER_THRESHOLD
    model.config.thresholds = thresholds
    folder = tmp_path_factory.mktemp("keyword-model")
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier(four_label_model) -> EmotionClassifier:
    return EmotionClassifier.from_pretrained(str(four_label_model), device="cpu")


@pytest.fixture
def start_app(monkeypatch):
    """`start_app(*script_args)` -> the app after its first run, as `streamlit run demo_app.py -- ARGS` starts it."""

    def start(*script_args: str) -> AppTest:
        monkeypatch.setattr(sys, "argv", [str(APP), *script_args])
        return AppTest.from_file(str(APP), default_timeout=120).run()

    return start


def shown_labels(app: AppTest) -> list[str]:
    """The predicted labels the page shows, read from the `data-labels` attribute of its result element."""
    [result] = [element for element in app.get("html") if 'id="goemox-labels"' in element.proto.body]
    body = result.proto.body
    start = body.index('data-labels="') + len('data-labels="')
    return json.loads(body[start : body.index('"', start)].replace("&quot;", '"'))


def classify(app: AppTest, text: str) -> AppTest:
    app.text_area[0].input(text)
    [submit] = [button for button in app.button if button.label == "Classify"]
    return submit.click().run()


def test_sidebar_shows_model_facts_and_thresholds_start_at_the_models(start_app, four_label_model, classifier):
    app = start_app("--model", str(four_label_model))
    assert not app.exception and not app.error
    facts = app.sidebar.get("html")[0].proto.body
    assert str(four_label_model) in facts and "keywords" in facts and "tuned per label" in facts
    assert "Out-of-domain" not in facts and "Calibration" not in facts
    assert [slider.label for slider in app.slider] == LABELS
    assert [slider.value for slider in app.slider] == classifier.thresholds


def test_single_text_shows_the_apis_labels_and_follows_the_sliders(start_app, four_label_model, classifier):
    app = classify(start_app("--model", str(four_label_model)), BROWSER_TEXT)
    assert not app.exception
    expected = classifier.predict([BROWSER_TEXT])[0].labels
    assert expected and len(expected) < len(LABELS)
    assert shown_labels(app) == expected
    assert len(app.get("vega_lite_chart")) == 1
    assert not app.info  # no truncation, and the model stores no OOD cutoff

    anger = app.slider(key="threshold::anger").set_value(0.5).run()
    loose = [0.5 if label == "anger" else t for label, t in zip(LABELS, classifier.thresholds)]
    assert shown_labels(anger) == classifier.predict([BROWSER_TEXT], thresholds=loose)[0].labels
    assert "anger" in shown_labels(anger)

    [reset] = [button for button in anger.button if button.label.startswith("Reset")]
    restored = reset.click().run()
    assert [slider.value for slider in restored.slider] == classifier.thresholds
    assert shown_labels(restored) == expected


def shaded_words(app: AppTest) -> tuple[str, list[tuple[str, float]]]:
    """The label the page explains and each shaded word with its attribution, read from the attribution element."""
    [element] = [e for e in app.get("html") if 'id="goemox-attributions"' in e.proto.body]
    body = element.proto.body
    label = re.search(r'data-label="([^"]*)"', body).group(1)
    words = re.findall(r'data-attribution="([^"]+)"[^>]*>([^<]*)</span>', body)
    return label, [(word, float(value)) for value, word in words]


def test_the_text_is_shaded_by_the_apis_attributions_for_a_picked_label(start_app, four_label_model, classifier):
    app = classify(start_app("--model", str(four_label_model)), BROWSER_TEXT)
    assert not app.exception
    expected = classifier.predict([BROWSER_TEXT])[0].labels
    [picker] = app.selectbox
    assert picker.label == "Label to explain" and list(picker.options) == expected
    label, words = shaded_words(app)
    assert label == expected[0]
    api = classifier.explain([BROWSER_TEXT], labels=[label])[0][label]
    assert [w for w, _ in words] == BROWSER_TEXT.split()
    assert [v for _, v in words] == pytest.approx([w.attribution for w in api.words], rel=1e-4, abs=1e-5)
    assert max(words, key=lambda item: item[1])[0] in KEYWORDS[label]

    other = picker.select(expected[-1]).run()
    assert shaded_words(other)[0] == expected[-1]


def test_empty_text_gets_a_message(start_app, four_label_model):
    app = classify(start_app("--model", str(four_label_model)), "   \n ")
    assert not app.exception
    assert [warning.value for warning in app.warning] == ["Enter a text to classify."]
    assert not app.get("vega_lite_chart")


def test_text_longer_than_max_length_is_classified_with_a_note(start_app, four_label_model):
    text = " ".join(["happy after dinner"] * 10)
    app = classify(start_app("--model", str(four_label_model), "--max_length", "8"), text)
    assert not app.exception
    [note] = app.info
    assert "the model reads only the first 8" in note.value
    short = EmotionClassifier.from_pretrained(str(four_label_model), device="cpu", max_length=8)
    assert shown_labels(app) == short.predict([text])[0].labels


def test_with_long_text_window_the_whole_text_is_read_and_the_note_says_so(start_app, four_label_model):
    text = " ".join(["the house after dinner"] * 10 + ["so happy"])
    app = classify(start_app("--model", str(four_label_model), "--max_length", "8", "--long_text", "window"), text)
    assert not app.exception
    [note] = app.info
    assert "it was read whole, in 13 overlapping windows" in note.value
    whole = EmotionClassifier.from_pretrained(str(four_label_model), device="cpu", max_length=8, long_text="window")
    assert shown_labels(app) == whole.predict([text])[0].labels
    assert "joy" in shown_labels(app)  # the end of the text counts


def test_ood_cutoff_and_calibration_are_shown(start_app, four_label_model, tmp_path):
    model = GoEmoXForSequenceClassification.from_pretrained(four_label_model)
    model.config.ood_cutoff = {"score": "max_probability", "cutoff": 0.9, "source": "synthetic OOD texts"}
    model.config.calibration_temperature = 1.7
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(four_label_model).save_pretrained(tmp_path)
    app = start_app("--model", str(tmp_path))
    facts = app.sidebar.get("html")[0].proto.body
    assert "Calibration" in facts and "temperature: T = 1.7000" in facts
    assert "below 0.900 (set on synthetic OOD texts)" in facts

    unfamiliar = classify(app, "the house")
    [note] = unfamiliar.info
    assert "looks unlike the model's training data" in note.value
    familiar = classify(unfamiliar, "wow")
    assert not familiar.info

    familiar.file_uploader[0].upload("two.txt", b"the house\nwow\n", "text/plain")
    app = familiar.run()
    app = [button for button in app.button if button.label == "Classify 2 texts"][0].click().run()
    assert list(app.dataframe[0].value["unfamiliar"]) == [True, False]
    assert [note.value for note in app.info] == [
        "Texts that look unlike the training data: 1 of 2 (column `unfamiliar`)."
    ]


@pytest.mark.parametrize("script_args", [["--model", "/no/such/model"], [], ["--model", "m", "--max_rows", "0"]])
def test_a_model_or_arguments_that_do_not_work_give_a_message(start_app, script_args):
    app = start_app(*script_args)
    assert not app.exception
    [error] = app.error
    assert error.value.startswith("Could not start the demo:")
    assert not app.text_area


def test_csv_upload_gives_a_table_of_the_apis_predictions(start_app, four_label_model, classifier):
    texts = ["happy today", "furious and scared", "the house", "wow so glad"]
    content = "id,body\n" + "".join(f"r{i},{text}\n" for i, text in enumerate(texts))
    app = start_app("--model", str(four_label_model))
    app.file_uploader[0].upload("mine.csv", content.encode(), "text/csv")
    app = app.run()
    app = app.selectbox[0].select("body").run()
    [run] = [button for button in app.button if button.label == "Classify 4 texts"]
    app = run.click().run()
    assert not app.exception and not app.error
    [table] = app.dataframe
    frame = table.value
    assert list(frame["id"]) == ["r0", "r1", "r2", "r3"]
    assert list(frame["labels"]) == [";".join(p.labels) for p in classifier.predict(texts)]
    assert frame["score_joy"].tolist() == pytest.approx([p.scores["joy"] for p in classifier.predict(texts)], abs=1e-6)
    assert app.get("download_button")
    assert app.get("progress")


def test_txt_upload_and_slider_changes_need_no_second_run(start_app, four_label_model):
    texts = ["happy today", "furious and scared", " ".join(["wow"] * 20)]
    app = start_app("--model", str(four_label_model), "--max_length", "8")
    app.file_uploader[0].upload("lines.txt", ("\n".join(texts) + "\n\n").encode(), "text/plain")
    app = app.run()
    assert not app.selectbox
    app = [button for button in app.button if button.label == "Classify 3 texts"][0].click().run()
    assert list(app.dataframe[0].value["text"]) == texts
    assert [note.value for note in app.info] == [
        "Texts longer than 8 tokens: 1 of 3; the model read only their beginning."
    ]
    assert "joy" in ";".join(app.dataframe[0].value["labels"])
    app = app.slider(key="threshold::joy").set_value(1.0).run()
    assert "joy" not in ";".join(app.dataframe[0].value["labels"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.txt", b"fine line\n" + b"caf\xe9\n", "bad.txt:2: bytes that are not UTF-8"),
        ("big.txt", b"one\ntwo\nthree\n", "big.txt: 3 rows, more than this demo's limit of 2"),
        ("header.csv", b"text\n", "header.csv: no texts found"),
        ("holes.csv", b"id,text\n1,hello\n2,\n", "holes.csv:3: empty or missing 'text'"),
        ("empty.csv", b"", "empty.csv:1: no header row"),
    ],
)
def test_bad_files_get_a_message(start_app, four_label_model, name, content, message):
    app = start_app("--model", str(four_label_model), "--max_rows", "2")
    app.file_uploader[0].upload(name, content, "application/octet-stream")
    app = app.run()
    assert not app.exception
    [error] = app.error
    assert error.value.startswith(message)
    assert not app.dataframe


@contextmanager
def demo_server(model: Path, log_path: Path, timeout: float = 120):
    """`goemox demo` on 127.0.0.1 and a free port, up once `/_stcore/health` answers; yields its URL, then stops it."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "goemox", "demo", "--model", str(model), "--port", str(port)]
    with log_path.open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, f"the demo server exited: {log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer from the demo server: {log_path.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)


def classify_in_browser(driver, url: str, text: str, timeout: float = 120) -> list[str]:
    """Open the demo, type `text`, press Classify; returns the labels the page highlights once the chart is drawn."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    driver.get(url)
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "textarea"))).send_keys(text)
    driver.find_element(By.CSS_SELECTOR, '[data-testid="stFormSubmitButton"] button').click()
    result = wait.until(ready.visibility_of_element_located((By.ID, "goemox-labels")))
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"] svg.marks')))
    wait.until(ready.invisibility_of_element_located((By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')))
    labels = json.loads(result.get_attribute("data-labels"))
    assert [badge.text for badge in result.find_elements(By.TAG_NAME, "span")] == labels  # what people see
    return labels


def shading_in_browser(driver, timeout: float = 120) -> tuple[str, list[tuple[str, float, str]]]:
    """The label the page explains, and each shaded word with its attribution and its computed background colour."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    element = WebDriverWait(driver, timeout).until(ready.visibility_of_element_located((By.ID, "goemox-attributions")))
    words = [
        (span.text, float(span.get_attribute("data-attribution")), span.value_of_css_property("background-color"))
        for span in element.find_elements(By.CSS_SELECTOR, "span.goemox-word")
    ]
    return element.get_attribute("data-label"), words


@starts_processes
def test_real_browser_highlights_the_apis_labels(tmp_path, request):
    chromium_paths()  # skip before training the model when there is no browser
    classifier = request.getfixturevalue("classifier")
    four_label_model = request.getfixturevalue("four_label_model")
    expected = classifier.predict([BROWSER_TEXT])[0].labels
    at_one_half = classifier.predict([BROWSER_TEXT], thresholds=0.5)[0].labels
    assert expected and len(expected) < len(LABELS) and expected != at_one_half  # the model says something non-trivial
    with (
        headless_chromium(tmp_path / "profile") as driver,
        demo_server(four_label_model, tmp_path / "server.log") as url,
    ):
        assert classify_in_browser(driver, url, BROWSER_TEXT) == expected
        label, shading = shading_in_browser(driver)
        assert label == expected[0]
        strongest = max(shading, key=lambda item: item[1])
        assert strongest[0] in KEYWORDS[label] and strongest[2] != "rgba(0, 0, 0, 0)"  # coloured, as people see it
        screenshot = tmp_path / "demo.png"
        assert driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
