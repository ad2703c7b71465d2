import os

import pytest

from goemox.reporting.files import open_atomically, write_text_atomically


def test_new_file_is_world_readable_and_an_existing_one_keeps_its_mode(tmp_path):
    path = write_text_atomically(tmp_path / "sub" / "a.txt", "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"
    assert path.stat().st_mode & 0o777 == 0o644
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
