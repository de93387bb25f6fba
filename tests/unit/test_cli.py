"""The command line's contract: one clear line for user errors, Ansible's exit codes."""

from __future__ import annotations

import pytest

from wsusauto import exitcodes
from wsusauto.cli import main


def _run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    return info.value.code, capsys.readouterr()


def test_missing_option_exits_1_not_clicks_2(capsys):
    code, out = _run(capsys, "facts")
    assert code == exitcodes.USAGE
    assert "--inventory" in out.err


def test_unknown_inventory_file_is_one_line(capsys, tmp_path):
    code, out = _run(capsys, "facts", "-i", str(tmp_path / "nope.yml"))
    assert code == exitcodes.USAGE
    assert out.err.strip().count("\n") == 0 and "nope.yml" in out.err


def test_bad_extra_vars(capsys, tmp_path):
    inventory = tmp_path / "i.yml"
    inventory.write_text("all:\n  hosts:\n    a: {ansible_user: u, wsusauto_password_env: NOPE_PW_X}\n")
    code, out = _run(capsys, "facts", "-i", str(inventory), "-e", "novalue")
    assert code == exitcodes.USAGE and "key=value" in out.err


def test_connection_vars_are_checked_before_any_connection(capsys, tmp_path):
    inventory = tmp_path / "i.yml"
    inventory.write_text("all:\n  hosts:\n    a: {ansible_user: u, wsusauto_password_env: NOPE_PW_X}\n")
    code, out = _run(capsys, "facts", "-i", str(inventory))
    assert code == exitcodes.USAGE and "NOPE_PW_X is not set" in out.err


def test_version(capsys):
    main(["--version"])
    assert "0.1.0" in capsys.readouterr().out
