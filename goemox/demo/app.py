"""The goemox web demo (Streamlit): one text with a probability chart, or a whole file with a downloadable table.

Start it with `goemox demo --model DIR_OR_HUB_ID`, or `streamlit run goemox/demo_app.py -- --model DIR_OR_HUB_ID`
(optional `--max_rows N --max_length TOKENS --long_text window`). The work apart from drawing lives in
`goemox/demo_logic.py`.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from goemox.data.text_files import decode_utf8
from goemox.demo.logic import (
    DemoSettings,
    attribution_html,
    check_text,
    count_tokens,
    csv_columns,
    long_text_note,
    long_texts_note,
    model_facts,
    parse_demo_args,
    probabilities_in_chunks,
    read_upload,
    results_csv,
    results_frame,
    scores_frame,
    unfamiliar_note,
    upload_format,
)
from goemox.errors import GoEmoXError
from goemox.inference.attribution import DEFAULT_STEPS, LabelExplanation
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.loading import load_classifier
from goemox.inference.predictor import LongText

RESULT_ELEMENT_ID = "goemox-labels"
PASSING_COLOR = "#d62728"
OTHER_COLOR = "#c7c7c7"
MAX_TEXT_CHARS = 20_000
CHUNK_SIZE = 256
EXAMPLE_TEXT = "Thank you so much for the help, I was really worried but now I'm so happy!"


@st.cache_resource(show_spinner="Loading the model…")
def cached_classifier(model: str, max_length: int, long_text: LongText) -> EmotionClassifier:
    """The classifier, loaded once per server process for each (model, max_length, long_text)."""
    return load_classifier(model, max_length=max_length, batch_size=64, long_text=long_text)


@st.cache_data(show_spinner="Finding the words behind the label…", max_entries=512)
def cached_explanation(settings: DemoSettings, text: str, label: str) -> LabelExplanation:
    """One text's attributions for one label, computed once per (demo settings, text, label)."""
    classifier = cached_classifier(settings.model, settings.max_length, LongText.of(settings))
    return classifier.explain([text], labels=[label], n_steps=DEFAULT_STEPS)[0][label]


def threshold_key(label: str) -> str:
    return f"threshold::{label}"


def reset_thresholds(classifier: EmotionClassifier) -> None:
    """Put every threshold control back to the model's stored value."""
    for label, value in zip(classifier.label_names, classifier.thresholds):
        st.session_state[threshold_key(label)] = float(value)


def sidebar(classifier: EmotionClassifier, settings: DemoSettings) -> list[float]:
    """The model's facts and one threshold slider per label (starting at the model's values); returns them."""
    for label, value in zip(classifier.label_names, classifier.thresholds):
        st.session_state.setdefault(threshold_key(label), float(value))
    with st.sidebar:
        st.header("Model")
        facts = "".join(
            f'<dt style="font-weight:600">{html.escape(name)}</dt>'
            f'<dd style="margin:0 0 0.5rem 0;overflow-wrap:anywhere">{html.escape(value)}</dd>'
            for name, value in model_facts(classifier, settings.model).items()
        )
        st.html(f'<dl id="goemox-model-facts">{facts}</dl>')
        st.header("Thresholds")
        st.caption("A label is predicted when its probability reaches its threshold.")
        st.button("Reset to the model's thresholds", on_click=reset_thresholds, args=(classifier,))
        with st.expander(f"{len(classifier.label_names)} labels", expanded=len(classifier.label_names) <= 12):
            return [
                st.slider(label, 0.0, 1.0, step=0.01, format="%.3f", key=threshold_key(label))
                for label in classifier.label_names
            ]


def labels_html(labels: list[str]) -> str:
    """The predicted labels as badges, in an element whose `data-labels` attribute lists them as JSON."""
    badges = " ".join(
        f'<span style="background:{PASSING_COLOR};color:white;border-radius:0.5rem;padding:0.15rem 0.6rem;'
        f'font-weight:600">{html.escape(label)}</span>'
        for label in labels
    )
    shown = badges or "<i>none: no label reaches its threshold</i>"
    attribute = html.escape(json.dumps(labels), quote=True)
    return f'<div id="{RESULT_ELEMENT_ID}" data-labels="{attribute}"><b>Predicted labels:</b> {shown}</div>'


def scores_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Horizontal probability bars, predicted labels in colour, each label's threshold as a black tick."""
    frame = frame.assign(status=frame["passes"].map({True: "predicted", False: "below threshold"}))
    rows = alt.Y("label:N", sort=None, title=None)
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=rows,
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(tickCount=10), title="probability"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=["predicted", "below threshold"], range=[PASSING_COLOR, OTHER_COLOR]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["label", alt.Tooltip("probability:Q", format=".3f"), alt.Tooltip("threshold:Q", format=".2f")],
        )
    )
    ticks = alt.Chart(frame).mark_tick(color="black", thickness=2).encode(y=rows, x="threshold:Q")
    return (bars + ticks).properties(height=alt.Step(24))


def single_text_tab(classifier: EmotionClassifier, thresholds: list[float], settings: DemoSettings) -> None:
    """A text box and, once submitted, the predicted labels, the per-label probability chart and the text shaded by
    each word's attribution for a predicted label picked from a list."""
    with st.form("single_text"):
        text = st.text_area("Text", max_chars=MAX_TEXT_CHARS, placeholder=EXAMPLE_TEXT)
        if st.form_submit_button("Classify", type="primary"):
            st.session_state["submitted_text"] = text
    if "submitted_text" not in st.session_state:
        return
    try:
        text = check_text(st.session_state["submitted_text"])
    except GoEmoXError as err:
        st.warning(str(err))
        return
    prediction = classifier.predict([text], thresholds=thresholds)[0]
    for note in (
        long_text_note(count_tokens(classifier, [text])[0], classifier),
        unfamiliar_note(prediction, classifier.ood_cutoff),
    ):
        if note:
            st.info(note)
    st.html(labels_html(prediction.labels))
    st.altair_chart(scores_chart(scores_frame(prediction, thresholds)), width="stretch")
    st.caption("Bars: each label's probability. Black ticks: its threshold (set them in the sidebar).")
    if prediction.labels:
        st.subheader("Why this label")
        label = st.selectbox("Label to explain", prediction.labels)
        explanation = cached_explanation(settings, text, label)
        st.html(attribution_html(text, explanation))


def file_tab(classifier: EmotionClassifier, thresholds: list[float], settings: DemoSettings) -> None:
    """Upload a CSV or TXT file, classify every text with a progress bar, show and download the table."""
    upload = st.file_uploader(
        f"A CSV file with a header row, or a TXT file with one text per line (at most {settings.max_rows:,} rows)",
        type=["csv", "txt"],
    )
    if upload is None:
        return
    data = upload.getvalue()
    try:
        column = None
        if upload_format(upload.name) == "csv":
            columns = csv_columns(decode_utf8(data, upload.name), upload.name)
            column = st.selectbox("Text column", columns, index=columns.index("text") if "text" in columns else 0)
        batch = read_upload(data, upload.name, column, settings.max_rows)
    except GoEmoXError as err:
        st.error(str(err))
        return
    key = (upload.file_id, batch.text_column)
    if st.button(f"Classify {len(batch.rows)} texts", type="primary"):
        progress = st.progress(0.0, text="Classifying…")
        probabilities = probabilities_in_chunks(
            classifier,
            batch.texts,
            CHUNK_SIZE,
            lambda done, total: progress.progress(done / total, text=f"Classified {done} of {total} texts"),
        )
        long_texts = sum(tokens > classifier.max_length for tokens in count_tokens(classifier, batch.texts))
        st.session_state["file_result"] = {"key": key, "probabilities": probabilities, "long_texts": long_texts}
    result = st.session_state.get("file_result")
    if result is None or result["key"] != key:
        return
    frame = results_frame(batch, result["probabilities"], classifier.label_names, thresholds, classifier.ood_cutoff)
    note = long_texts_note(result["long_texts"], len(frame), classifier)
    if note:
        st.info(note)
    if "unfamiliar" in frame and frame["unfamiliar"].any():
        st.info(
            f"Texts that look unlike the training data: {int(frame['unfamiliar'].sum())} of {len(frame)} "
            "(column `unfamiliar`)."
        )
    st.dataframe(frame, hide_index=True)
    st.download_button(
        "Download as CSV", results_csv(frame), file_name=f"{Path(upload.name).stem}_predictions.csv", mime="text/csv"
    )


def main(argv: list[str]) -> None:
    """Draw the page for the model named in `argv` (the script's arguments)."""
    st.set_page_config(page_title="goemox demo", page_icon="🎭", layout="wide")
    st.title("goemox: emotions in short English texts")
    try:
        settings = parse_demo_args(argv)
        classifier = cached_classifier(settings.model, settings.max_length, LongText.of(settings))
    except (GoEmoXError, OSError, ValueError) as err:
        st.error(f"Could not start the demo: {err}")
        return
    thresholds = sidebar(classifier, settings)
    single, batch = st.tabs(["Single text", "File"])
    with single:
        single_text_tab(classifier, thresholds, settings)
    with batch:
        file_tab(classifier, thresholds, settings)


if __name__ == "__main__":
    main(sys.argv[1:])
