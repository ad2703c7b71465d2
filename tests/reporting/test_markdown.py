from goemox.reporting.markdown import MarkdownReport, plain_text


def test_report_renders_tables_images_and_writes_atomically(tmp_path):
    (tmp_path / "plots").mkdir()
    report = MarkdownReport(tmp_path, "Title")
    report.heading("Numbers")
    report.table(["name", "value"], [["a|b", 0.123456], ["c", 3]])
    report.image(tmp_path / "plots" / "x.png", "a plot")
    report.bullets(["one", "two"])
    path = report.save()
    text = path.read_text()
    assert text.startswith("# Title\n")
    assert "| a\\|b | 0.1235 |" in text
    assert "![a plot](plots/x.png)" in text
    assert "- one\n- two" in text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_plain_text_shows_data_as_typed():
    """A comment's brackets, stars and angle brackets are escaped, so Markdown shows them instead of reading a link
    reference (`[NAME] [NAME]`), emphasis or HTML; plain words are left alone."""
    assert plain_text("[NAME] [NAME] Bros *sigh* <3 a_b `x` #1 ~ok~ back\\slash") == (
        "\\[NAME\\] \\[NAME\\] Bros \\*sigh\\* \\<3 a\\_b \\`x\\` \\#1 \\~ok\\~ back\\\\slash"
    )
    assert plain_text("Thanks, this made my day!") == "Thanks, this made my day!"
