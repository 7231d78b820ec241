"""What every check does the same way: learner errors, endless loops and wrong types become one
"Not yet" line, never a traceback or a hang; the caller's random state, signal handler, timer
and profile hook are left as they were."""

from __future__ import annotations

import signal
import sys
import threading
import time

import numpy as np
import pytest
import torch
from checks_helpers import HandDeepFM, SequentialTower, fails_with, ip_triu, not_implemented, passes
from torch import nn

from deepfm_lite.course import checks
from deepfm_lite.course.checks import common
from deepfm_lite.layers import fm_second_order

ALL_FUNCTION_CHECKS = [checks.check_logloss, checks.check_auc, checks.check_fm_second_order,
                       checks.check_embedding_lookup, checks.check_inner_product,
                       checks.check_mlp, checks.check_deepfm]


def test_the_package_keeps_its_public_names():
    for name in ("CheckResult", "PASS_MARK", "NOT_YET", "check_logloss", "check_auc",
                 "check_fm_second_order", "check_embedding_lookup", "check_mlp", "check_deepfm",
                 "check_inner_product", "check_ablation"):
        assert hasattr(checks, name), name
    assert (checks.PASS_MARK, checks.NOT_YET) == ("✅", "Not yet")
    assert common.CALL_TIMEOUT_S == 5.0


def test_result_lines_keep_their_format():
    assert checks.CheckResult("check_x", True, "fine.").line == "✅ check_x passed: fine."
    assert checks.CheckResult("check_x", False, "hint.").line == "Not yet (check_x): hint."


@pytest.mark.parametrize("check", ALL_FUNCTION_CHECKS, ids=lambda c: c.__name__)
def test_unanswered_exercise_is_not_yet(check, capsys):
    result = check(not_implemented)
    fails_with(result, "not written yet", "# YOUR CODE HERE")
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("Not yet")


@pytest.mark.parametrize("check", ALL_FUNCTION_CHECKS, ids=lambda c: c.__name__)
def test_learner_exception_none_and_non_callable_are_feedback(check):
    def broken(*_args):
        raise ValueError("field 3 is odd")

    fails_with(check(broken), "raised ValueError", "field 3 is odd")
    fails_with(check(lambda *_args: None), "returned None")
    fails_with(check(None), "got None")
    fails_with(check(42), "int")


def test_wrong_type_and_dtype_are_feedback():
    fails_with(checks.check_logloss(lambda y, p: "0.5"), "str")
    fails_with(checks.check_fm_second_order(lambda e: torch.zeros(e.shape[0], dtype=torch.long)),
               "integers")
    fails_with(checks.check_embedding_lookup(lambda ids, values, table, dims: ids), "integers")
    fails_with(checks.check_inner_product(lambda e: torch.full((e.shape[0], 1), float("nan"))),
               "NaN")
    fails_with(checks.check_inner_product(lambda e: ip_triu(e)[:, :1]), "expected [3, 10]")


def test_pass_line_starts_with_the_pass_mark(capsys):
    result = checks.check_fm_second_order(
        lambda e: 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)).sum(1))
    assert result.line.startswith(checks.PASS_MARK)
    assert capsys.readouterr().out.strip() == result.line


def test_checks_keep_the_callers_random_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_mlp(SequentialTower)
    checks.check_deepfm(HandDeepFM)
    assert torch.equal(torch.rand(3), expected)


# ---- a learner's code that never returns ------------------------------------------------------


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr(common, "CALL_TIMEOUT_S", 0.3)


def spin(*_args):
    while True:
        pass


def spin_through_except(*_args):
    """An endless loop that swallows every Exception: the time limit must still stop it."""
    while True:
        try:
            time.sleep(0.01)
        except Exception:
            pass


class SpinningInit(nn.Module):
    def __init__(self, *_args):
        super().__init__()
        spin()


class SpinningTower(SequentialTower):
    def forward(self, embeddings):
        spin()


class SpinningDeepFM(HandDeepFM):
    def forward(self, ids, values):
        spin()


@pytest.mark.parametrize("check, what", [
    (checks.check_logloss, "your function"), (checks.check_auc, "your function"),
    (checks.check_fm_second_order, "your function"),
    (checks.check_embedding_lookup, "your function"),
    (checks.check_inner_product, "your function"), (checks.check_mlp, "your tower"),
    (checks.check_deepfm, "your model"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_an_endless_function_is_stopped_and_named(check, what, short_timeout):
    started = time.monotonic()
    fails_with(check(spin), f"{what} `spin` did not return within 0.3 s", "loop")
    assert time.monotonic() - started < 5


def test_an_endless_loop_that_catches_exceptions_is_stopped(short_timeout):
    fails_with(checks.check_fm_second_order(spin_through_except),
               "your function `spin_through_except` did not return within 0.3 s")


def test_endless_module_construction_and_forward_are_named(short_timeout):
    fails_with(checks.check_mlp(SpinningInit), "your tower `SpinningInit` did not return "
                                               "within 0.3 s when called with arguments")
    fails_with(checks.check_mlp(SpinningTower), "your tower `SpinningTower`'s forward did not "
                                                "return within 0.3 s")
    fails_with(checks.check_deepfm(SpinningDeepFM), "your model `SpinningDeepFM` did not return "
                                                    "within 0.3 s when called with ids and values")


def test_the_time_limit_gives_back_the_previous_handler_and_timer(short_timeout):
    def previous_handler(_signum, _frame):
        raise AssertionError("the previous timer fired during the check")

    old_handler = signal.signal(signal.SIGALRM, previous_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        fails_with(checks.check_fm_second_order(spin), "did not return within 0.3 s")
        assert signal.getsignal(signal.SIGALRM) is previous_handler
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 20.0 < left <= 30.0  # the timer runs on, minus the check's time
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_right_answer_leaves_no_timer_behind(short_timeout):
    handler = signal.getsignal(signal.SIGALRM)
    passes(checks.check_inner_product(ip_triu))
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler


def slow_inner_products(embeddings):
    time.sleep(0.4)
    return ip_triu(embeddings)


def test_off_the_main_thread_the_check_runs_without_a_limit(short_timeout):
    """Signals reach the main thread only: elsewhere the documented fallback is no limit."""
    fails_with(checks.check_inner_product(slow_inner_products), "did not return within 0.3 s")
    results = []
    worker = threading.Thread(
        target=lambda: results.append(checks.check_inner_product(slow_inner_products)))
    worker.start()
    worker.join(timeout=60)
    passes(results[0])


# ---- the watch for forbidden library calls ------------------------------------------------------


def test_the_profile_hook_is_given_back():
    def previous_hook(_frame, _event, _arg):
        return None

    sys.setprofile(previous_hook)
    try:
        fails_with(checks.check_fm_second_order(fm_second_order), "calls")
        assert sys.getprofile() is previous_hook
    finally:
        sys.setprofile(None)
    passes(checks.check_inner_product(ip_triu))
    assert sys.getprofile() is None


def test_an_exception_after_a_forbidden_call_still_names_the_call():
    def package_then_error(embeddings):
        fm_second_order(embeddings)
        raise ValueError("late")

    fails_with(checks.check_fm_second_order(package_then_error),
               "calls deepfm_lite.layers.fm_second_order")


def test_numbers_as_a_notebook_would_pass_them():
    """A float64 NumPy answer is fine where the exercise is NumPy (01)."""
    passes(checks.check_auc(lambda y, s: np.float64(
        ((s[y == 1][:, None] > s[y == 0][None, :])
         + 0.5 * (s[y == 1][:, None] == s[y == 0][None, :])).mean())))
