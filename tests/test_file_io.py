import os
import stat

import pytest

from goemox.errors import GoEmoXUsageError
from goemox.file_io import (
    check_can_create,
    check_output_file,
    check_output_folder,
    check_regular_or_new,
    open_atomically,
    plain_mode,
    read_json_object,
    write_text_atomically,
)


def test_new_file_follows_the_umask_and_an_existing_one_keeps_its_mode(tmp_path, umask_027):
    path = write_text_atomically(tmp_path / "sub" / "a.txt", "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"
    assert path.stat().st_mode & 0o777 == 0o640 == plain_mode()
    os.chmod(path, 0o600)
    write_text_atomically(path, "again")
    assert path.read_text() == "again" and path.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomically(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_stream_written_piece_by_piece_appears_only_when_the_block_ends(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with open_atomically(path) as stream:
        stream.write("new\r\n")
        assert path.read_text() == "old"
        stream.write("more")
    assert path.read_bytes() == b"new\r\nmore"
    with pytest.raises(RuntimeError), open_atomically(path) as stream:
        stream.write("half")
        raise RuntimeError
    assert path.read_bytes() == b"new\r\nmore"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_json_record_is_an_object_or_one_line_saying_what_is_wrong(tmp_path):
    for content, problem in (("{", "not valid JSON"), ("[1, 2]", "expected a JSON object, got list")):
        (tmp_path / "a.json").write_text(content)
        with pytest.raises(GoEmoXUsageError, match=f"a.json: {problem}"):
            read_json_object(tmp_path / "a.json")
    (tmp_path / "a.json").write_bytes(b'{"t": "\xff"}')
    with pytest.raises(GoEmoXUsageError, match="a.json: not valid JSON"):
        read_json_object(tmp_path / "a.json")
    (tmp_path / "a.json").write_text('{"t": "é"}', encoding="utf-8")
    assert read_json_object(tmp_path / "a.json") == {"t": "é"}


def test_links_devices_and_pipes_are_never_replaced(tmp_path):
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "link.txt").symlink_to(tmp_path / "file.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing.txt")
    os.mkfifo(tmp_path / "pipe")
    for path, words in [
        (tmp_path / "link.txt", "symbolic link"),
        (tmp_path / "broken.txt", "symbolic link"),
        (tmp_path / "pipe", "not a regular file"),
        ("/dev/null", "not a regular file"),
    ]:
        with pytest.raises(GoEmoXUsageError, match=words):
            check_output_file(path, overwrite=True)
        with pytest.raises(GoEmoXUsageError, match=words):
            write_text_atomically(path, "new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "file.txt").read_text() == "mine"
    assert not (tmp_path / "missing.txt").exists() and stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
    check_regular_or_new(tmp_path / "file.txt")
    check_regular_or_new(tmp_path / "new.txt")


def test_places_where_nothing_can_be_created_are_refused_before_the_work(tmp_path):
    check_can_create(tmp_path / "missing" / "deeper" / "out.json", "--output")  # created when written
    assert not (tmp_path / "missing").exists() and list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    for path in ["/proc/goemox/out.json", "/proc/out.json", tmp_path / "file" / "out.json"]:
        with pytest.raises(GoEmoXUsageError, match="--output .*(cannot write in|is not a folder)"):
            check_output_file(path, overwrite=False)
    with pytest.raises(GoEmoXUsageError, match="--output_dir /proc/goemox: cannot write in /proc"):
        check_output_folder("/proc/goemox", overwrite=False)


def test_standard_output_is_refused_where_a_command_writes_a_file_only():
    assert str(check_output_file("-", overwrite=False)) == "-"
    with pytest.raises(GoEmoXUsageError, match="--output -: this command writes a file"):
        check_output_file("-", overwrite=False, stdout=False)
