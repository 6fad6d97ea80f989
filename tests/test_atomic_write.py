"""Result files are written whole or not at all, with the mode an ordinary write gives."""

import os
import stat

import pytest

from stsmeta.atomic_write import write_bytes_atomically, write_text_atomically


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_mode_follows_the_umask_not_mkstemp(tmp_path, umask_027):
    target = tmp_path / "out" / "result.json"
    write_text_atomically(target, "{}\n")
    assert target.read_text() == "{}\n"
    # mkstemp alone would give 0600; an ordinary open() under umask 027 gives 0640.
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old\n")

    with pytest.raises(TypeError):
        write_bytes_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_text_is_utf8_with_unix_line_ends(tmp_path):
    target = tmp_path / "t.csv"
    write_text_atomically(target, "a,\u00e9\n")
    assert target.read_bytes() == "a,\u00e9\n".encode()
