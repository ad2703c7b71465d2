from goemox.reporting.markdown import MarkdownReport


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
