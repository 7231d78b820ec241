"""What the command-line tests share: running a command and reading its one-line error."""

from __future__ import annotations

from deepfm_lite.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """``python -m deepfm_lite ARGV`` in this process: exit code, stdout, stderr."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *fragments: str, bug: bool = False) -> str:
    """Assert exit code 2 and one ``deepfm_lite: error:`` line holding every fragment, never a
    traceback, and "a bug?" only for an error meant to be unexpected (``bug``); return it."""
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepfm_lite: error: "), err
    assert "Traceback" not in err and ("a bug?" in err) == bug, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def never(name: str):
    """A stand-in for ``name`` that fails the test if called."""
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} ran, but the error should have been seen before it")
    return fail
