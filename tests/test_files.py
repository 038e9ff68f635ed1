"""mentornet.files: a file is replaced whole or left as it was."""

import errno
import json
import os
import stat

import pytest

from mentornet import files


def leftovers(directory):
  return sorted(n for n in os.listdir(directory) if n.startswith(".tmp"))


def test_json_is_written_whole_with_the_usual_permissions(tmp_path):
  path = tmp_path / "state.json"
  files.write_json_atomically(str(path), {"step": 3, "loss": [1.5, 2.0]})
  assert json.loads(path.read_text()) == {"step": 3, "loss": [1.5, 2.0]}
  assert stat.S_IMODE(path.stat().st_mode) == 0o644
  files.write_json_atomically(str(path), {"step": 4})
  assert json.loads(path.read_text()) == {"step": 4}
  assert leftovers(tmp_path) == []


def test_a_failure_part_way_leaves_the_old_file_and_no_temporary(tmp_path):
  path = tmp_path / "table.csv"
  path.write_text("old\n")
  with pytest.raises(RuntimeError, match="killed"):
    with files.atomic_file(str(path)) as f:
      f.write("new, half")
      raise RuntimeError("killed")
  assert path.read_text() == "old\n"
  assert leftovers(tmp_path) == []


def test_a_full_disk_at_the_flush_leaves_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "history.json"
  files.write_json_atomically(str(path), [1])

  def disk_full(fd):
    del fd
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(files.os, "fsync", disk_full)
  with pytest.raises(OSError, match="No space left on device"):
    files.write_json_atomically(str(path), [1, 2])
  assert json.loads(path.read_text()) == [1]
  assert leftovers(tmp_path) == []


def test_bytes_text_and_a_new_file_in_the_working_directory(
    tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with files.atomic_file("picture.png", "wb") as f:
    f.write(b"\x89PNG\r\n")
  files.write_text_atomically("notes.md", "| a |\n")
  assert (tmp_path / "picture.png").read_bytes() == b"\x89PNG\r\n"
  assert (tmp_path / "notes.md").read_text() == "| a |\n"
  assert leftovers(tmp_path) == []


def test_only_writing_modes_are_allowed(tmp_path):
  with pytest.raises(ValueError, match="mode 'w' or 'wb', not 'a'"):
    with files.atomic_file(str(tmp_path / "x"), "a"):
      pass
  assert os.listdir(tmp_path) == []
