"""Issue 25, item 3: the command's exit does not wait on the interpreter's garbage collections."""

from __future__ import annotations

import gc

import pytest

from evalkit.cli import main


@pytest.mark.parametrize("args, code", [(["runs"], None), (["compare", "--threads", "0", "a", "b"], 2)])
def test_main_leaves_nothing_for_teardown_to_collect(args, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        if code is None:
            main(args)
        else:  # an error exit too: a failed run holds as much as a finished one
            with pytest.raises(SystemExit) as e:
                main(args)
            assert e.value.code == code
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
