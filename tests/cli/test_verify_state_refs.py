"""`verify --backup/--journal` with a state: a file that exists is that file (AWS_AUTH_MIGRATE_STATE may be set
for every command in CI), anything else is a key in the state, and neither is said so with the option's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.cli.verify import _state_object
from migrator.errors import InputError
from migrator.state.files import FileStore


def test_an_existing_file_is_read_as_a_file_even_with_a_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.aws-auth.backup.json").write_text("{}")
    state = FileStore(tmp_path / "state")
    folder, name = _state_object("./x.aws-auth.backup.json", state, None, "us-east-1", "--backup")
    assert (folder.where(name), name) == (str(tmp_path / "x.aws-auth.backup.json"), "x.aws-auth.backup.json")


def test_a_key_is_read_from_the_state(tmp_path: Path) -> None:
    state = FileStore(tmp_path / "state")
    folder, name = _state_object("111122223333/us-east-1/prod/p.aws-auth.backup.json", state, None, "r", "--backup")
    assert folder.where(name) == str(tmp_path / "state/111122223333/us-east-1/prod/p.aws-auth.backup.json")


def test_neither_a_file_nor_a_key_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--journal: '\.\./missing\.jsonl': no such file, and not a key in the state"):
        _state_object("../missing.jsonl", FileStore(tmp_path), None, "us-east-1", "--journal")
