"""What every check shares; nothing here knows about a particular exercise.

* results, shown and recorded: :class:`CheckResult`, :class:`NotYet`, :func:`run_check`;
* calling the learner's code: :func:`call_learner` (a time limit, library code the exercise
  asks the learner to write watched for, every exception turned into a sentence) and
  :func:`build_module`;
* reading what it returns: :func:`as_array`, :func:`as_float_output`,
  :func:`as_tensor_output`, :func:`as_scalar`, :func:`expect_shape`;
* comparing numbers: :func:`close`, :func:`match_mistake`, :func:`first_difference`.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import importlib
import inspect
import signal
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

PASS_MARK = "✅"
NOT_YET = "Not yet"
NOT_WRITTEN = ("is not written yet (it raises NotImplementedError): replace the "
               "`raise NotImplementedError()` line under `# YOUR CODE HERE` with your code, run "
               "that cell, then run this check again")

CALL_TIMEOUT_S = 5.0
"""Seconds one call into learner code (a function call, building a module, a forward pass) may
take before the check stops it and says so; read at every call, so a test may lower it."""


# ---- results and how they are shown ---------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed``, and ``message`` (what passed, or the hint)."""

    check: str
    passed: bool
    message: str

    @property
    def line(self) -> str:
        """The one line shown to the learner."""
        if self.passed:
            return f"{PASS_MARK} {self.check} passed: {self.message}"
        return f"{NOT_YET} ({self.check}): {self.message}"

    def __str__(self) -> str:
        return self.line


class NotYet(Exception):
    """Stops a check at the first problem it finds; the text is the feedback."""


RECORDED: list[tuple[CheckResult, str]] = []  # (result, its check body's "module:qualname")


@dataclass(frozen=True)
class Forbidden:
    """Library code an exercise asks the learner to write rather than call.

    ``target`` is a dotted name: a function or a class (``"deepfm_lite.layers.MLP"``: every
    method it defines is watched) or, with ``package=True``, a package (``"sklearn"``: any
    function defined under it). The hint names it ``name`` and explains with ``reason``.
    """

    target: str
    name: str
    reason: str
    package: bool = False


_FORBIDDEN: contextvars.ContextVar[tuple[Forbidden, ...]] = contextvars.ContextVar(
    "deepfm_lite_checks_forbidden", default=())


def _in_kernel() -> bool:
    ipython_module = sys.modules.get("IPython")
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def show(result: CheckResult) -> None:
    """Display the result's line in Jupyter (coloured by the verdict), print it elsewhere."""
    if not _in_kernel():
        print(result.line)
        return
    from IPython.display import display

    colour = "#1a7f37" if result.passed else "#9a6700"
    markup = (f'<div style="border-left: 4px solid {colour}; padding: 2px 8px; margin: 2px 0">'
              f"{html.escape(result.line)}</div>")
    display({"text/plain": result.line, "text/html": markup}, raw=True)


def run_check(name: str, body: Callable[[], str],
              forbidden: Sequence[Forbidden] = ()) -> CheckResult:
    """Run a check body; its return is the pass message, a :class:`NotYet` the hint.

    The body runs with the caller's random state saved and restored, warnings silenced, and
    ``forbidden`` watched in every :func:`call_learner` it makes; the result joins RECORDED."""
    token = _FORBIDDEN.set(tuple(forbidden))
    try:
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings(), \
                np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = CheckResult(name, True, body())
    except NotYet as not_yet:
        result = CheckResult(name, False, str(not_yet))
    except Exception as error:  # a fault in the check itself still reads as words
        result = CheckResult(name, False, f"the check could not finish ({type(error).__name__}: "
                                          f"{error}); please report this to the course authors.")
    finally:
        _FORBIDDEN.reset(token)
    RECORDED.append((result, f"{getattr(body, '__module__', '')}:"
                             f"{getattr(body, '__qualname__', '')}"))
    show(result)
    return result


# ---- words ----------------------------------------------------------------------------------


def name_of(obj: Any) -> str:
    """The learner's function or class as a hint names it: `logloss`."""
    return f"`{getattr(obj, '__name__', type(obj).__name__)}`"


def short_error(error: BaseException, limit: int = 160) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def with_article(noun: str) -> str:
    """``noun`` after "a" or "an": an int, a tensor."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def fmt(x: float) -> str:
    """A number as a hint quotes it: four significant digits."""
    return f"{x:.4g}"


def preview(values: np.ndarray, limit: int = 8) -> str:
    """The first values of an array, as a hint quotes an input: [1, 0, 1, ...]."""
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return f"[{shown}{', ...' if values.size > limit else ''}]"


# ---- calling the learner's code ---------------------------------------------------------------


def expect_callable(fn: Any, example: str) -> None:
    """Raise when ``fn`` is None or not callable; ``example`` shows how to pass it."""
    if fn is None:
        raise NotYet(f"got None instead of your function: call it as `{example}`.")
    if not callable(fn):
        raise NotYet(f"expected your function or class itself, as in `{example}`, but got "
                     f"{with_article(type(fn).__name__)}. Pass it without calling it (no "
                     "parentheses).")


class _OutOfTime(BaseException):
    """The alarm in learner code past its limit (no learner's ``except Exception`` stops it)."""


def _alarm_available() -> bool:
    """SIGALRM exists on POSIX only, and handlers are set on the main thread (Jupyter's)."""
    return (hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
            and threading.current_thread() is threading.main_thread())


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_OutOfTime` in the code run inside once ``seconds`` have passed.

    A real-time interval timer (SIGALRM). The handler and timer in place before are put back
    after, a running timer re-armed with what was left of it (at once if it would have fired
    meanwhile). Without SIGALRM (Windows, or a thread other than the main one) the code runs
    WITHOUT a limit: Python cannot stop a thread from outside, so an endless loop hangs.
    """
    if not _alarm_available() or seconds <= 0:
        yield
        return

    def on_alarm(_signum, _frame):
        raise _OutOfTime()

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # even if the alarm fired just before it was disarmed
            signal.signal(signal.SIGALRM,
                          previous_handler if previous_handler is not None else signal.SIG_DFL)
            if previous_delay > 0:
                left = max(previous_delay - (time.monotonic() - started), 1e-6)
                signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def _resolve(dotted: str):
    """The object a dotted name points to, or None when its module is not imported:
    learner code written before the check cannot have called a module not yet imported, except
    by importing it on the way, which a ``package=True`` entry for the package catches.
    deepfm_lite's own modules are imported (they are cheap)."""
    module_name, _, attribute = dotted.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None and module_name.split(".")[0] == "deepfm_lite":
        module = importlib.import_module(module_name)
    return getattr(module, attribute, None) if module is not None else None


def _own_code(obj) -> list[types.CodeType]:
    """The code objects that run when ``obj`` (a function, or a class's methods) is called."""
    if inspect.isclass(obj):
        members = [m.__func__ if isinstance(m, (staticmethod, classmethod)) else m
                   for m in vars(obj).values()]
    else:
        members = [obj]
    functions = [inspect.unwrap(m) for m in members if callable(m)]
    return [f.__code__ for f in functions if inspect.isfunction(f)]


def _watch_list(entries: Sequence[Forbidden]):
    codes: dict[types.CodeType, Forbidden] = {}
    packages: list[tuple[str, Forbidden]] = []
    for entry in entries:
        if entry.package:
            packages.append((entry.target, entry))
            continue
        for code in _own_code(_resolve(entry.target)):
            codes.setdefault(code, entry)
    return codes, packages


@contextlib.contextmanager
def _watch_calls(entries: Sequence[Forbidden]) -> Iterator[list[Forbidden]]:
    """Record which ``entries`` the code run inside calls, by any route (an alias, a helper).

    A profile hook (``sys.setprofile``) sees every Python function call with its code object;
    the previous hook is put back afterwards."""
    seen: list[Forbidden] = []
    if not entries:
        yield seen
        return
    codes, packages = _watch_list(entries)

    def on_event(frame, event, _arg):
        if event != "call":
            return
        entry = codes.get(frame.f_code)
        if entry is None and packages:
            module = frame.f_globals.get("__name__") or ""
            entry = next((e for prefix, e in packages
                          if module == prefix or module.startswith(prefix + ".")), None)
        if entry is not None and entry not in seen:
            seen.append(entry)

    previous = sys.getprofile()
    sys.setprofile(on_event)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


def _refuse_forbidden(seen: list[Forbidden], entries: Sequence[Forbidden], what: str) -> None:
    if seen:
        entry = min(seen, key=entries.index)  # the most specific: entries list those first
        raise NotYet(f"{what} calls {entry.name}: {entry.reason}")


def call_learner(fn: Callable, *args, what: str, inputs: str = "",
                 hint_for: Callable[[Exception], str] | None = None) -> Any:
    """Call learner code and return what it returns; every problem becomes a :class:`NotYet`.

    The call is stopped after :data:`CALL_TIMEOUT_S` seconds; calls into the check's forbidden
    library code are named; an exception is quoted, then ``hint_for(error)`` when given.
    """
    entries = _FORBIDDEN.get()
    where = f" when called with {inputs}" if inputs else ""
    with _watch_calls(entries) as seen:
        try:
            with time_limit(CALL_TIMEOUT_S):
                result = fn(*args)
        except _OutOfTime:
            _refuse_forbidden(seen, entries, what)
            raise NotYet(f"{what} did not return within {CALL_TIMEOUT_S:g} s{where}: look for a "
                         "loop that never ends (a `while` whose condition never becomes false, "
                         "a counter that is never advanced) or work that grows far faster than "
                         "the input.") from None
        except NotImplementedError:
            raise NotYet(f"{what} {NOT_WRITTEN}.") from None
        except Exception as error:
            _refuse_forbidden(seen, entries, what)
            hint = hint_for(error) if hint_for is not None else ""
            raise NotYet(f"{what} raised {type(error).__name__}{where}: {short_error(error)}."
                         + (f" {hint}" if hint else "")) from None
    _refuse_forbidden(seen, entries, what)
    return result


def build_module(factory: Callable, args: tuple, what: str) -> nn.Module:
    """``factory(*args)``, which must give an ``nn.Module``."""
    module = call_learner(factory, *args, what=what, inputs=f"arguments {args}")
    if module is None:
        raise NotYet(f"{what} returned None: did you forget the `return` statement? It must "
                     "return a torch.nn.Module.")
    if not isinstance(module, nn.Module):
        raise NotYet(f"{what} gave {with_article(type(module).__name__)}; it must build a "
                     "torch.nn.Module (a class that inherits from nn.Module).")
    return module


# ---- reading what the learner's code returns -------------------------------------------------


def as_array(value: Any, what: str, expected: str) -> np.ndarray:
    """A float64 NumPy copy of a learner's tensor / array / number, or feedback in words."""
    if value is None:
        raise NotYet(f"{what} returned None: did you forget the `return` statement? "
                     f"It should return {expected}.")
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise NotYet(f"{what} returned a tensor of dtype {value.dtype}; expected {expected}.")
        array = value.detach().cpu().double().numpy() if value.is_floating_point() \
            else value.detach().cpu().numpy()
    elif isinstance(value, (np.ndarray, np.generic, int, float, list, tuple)) \
            and not isinstance(value, bool):
        try:
            array = np.asarray(value)
        except Exception as error:
            raise NotYet(f"{what} returned {with_article(type(value).__name__)} that is not a "
                         f"numeric array ({short_error(error)}); expected {expected}.") from None
    else:
        raise NotYet(f"{what} returned {with_article(type(value).__name__)}; expected "
                     f"{expected}.")
    if array.dtype.kind not in "fiu":
        raise NotYet(f"{what} returned values of dtype {array.dtype}; expected {expected}.")
    return array


def as_float_output(value: Any, what: str, expected: str) -> np.ndarray:
    """Like :func:`as_array`, for an answer that must hold finite floats."""
    array = as_array(value, what, expected)
    if array.dtype.kind != "f":
        raise NotYet(f"{what} returned integers (dtype {array.dtype}); expected {expected} "
                     "with float values.")
    if not np.all(np.isfinite(array)):
        raise NotYet(f"{what} returned NaN or infinite values; expected {expected}.")
    return array.astype(np.float64)


def as_tensor_output(value: Any, what: str, expected: str, like: torch.Tensor) -> np.ndarray:
    """Like :func:`as_float_output`, for an answer that torch code uses next.

    It must be a torch tensor of the input's dtype: the models back-propagate through it, and
    the notebook cells after the check combine it with tensors of the input's dtype
    (``torch.allclose`` refuses to compare Double with Float).
    """
    if isinstance(value, (np.ndarray, np.generic)):
        raise NotYet(f"{what} returned a NumPy array; return a torch tensor ({expected}). Stay "
                     "in torch (no .numpy(), no np.* functions): the model back-propagates "
                     "through this result, and the cells after this check use it with torch "
                     "functions.")
    array = as_float_output(value, what, expected)
    if not isinstance(value, torch.Tensor):
        raise NotYet(f"{what} returned {with_article(type(value).__name__)}; return a torch "
                     f"tensor ({expected}).")
    if value.dtype != like.dtype:
        raise NotYet(f"{what} returned {value.dtype} for {like.dtype} input: keep the input's "
                     "dtype (no .double(), no dtype=torch.float64; new tensors such as "
                     "torch.zeros(...) are float32 by default, or use x.new_zeros(...)). The "
                     f"cells after this check compare your result with {like.dtype} tensors, "
                     "and torch refuses to mix Double and Float there.")
    return array


def as_scalar(value: Any, what: str, expected: str, n_rows: int, many_hint: str) -> float:
    """One number from a float, a NumPy scalar or array, or a tensor with one element."""
    array = as_array(value, what, expected)
    if array.size == n_rows and n_rows > 1:
        raise NotYet(f"{what} returned {array.size} values, one per row. {many_hint}")
    if array.size != 1:
        raise NotYet(f"{what} returned an array of shape {list(array.shape)}; expected "
                     f"{expected}.")
    return float(array.reshape(-1)[0])


def expect_shape(array: np.ndarray, expected: tuple[int, ...], what: str,
                 hints: dict[tuple[int, ...], str]) -> None:
    """Raise when the shape differs, with the hint ``hints`` holds for the shape found."""
    shape = tuple(array.shape)
    if shape == expected:
        return
    hint = hints.get(shape, "")
    hint = hint[:1].upper() + hint[1:]
    raise NotYet(f"{what} returned shape {list(shape)}, expected {list(expected)}."
                 + (f" {hint}" if hint else ""))


# ---- comparing numbers ----------------------------------------------------------------------


def close(answer: Any, reference: Any, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Same shape and equal within the tolerances (both read as float64).

    The default tolerances suit a float32 answer against a float64 reference: float32 keeps
    about 7 significant digits (a rounding of 6e-8 relative per operation), and sums of a few
    dozen terms, computed in any order (AVX2, AVX-512, a loop), stay well within 1e-4.
    """
    answer, reference = np.asarray(answer, np.float64), np.asarray(reference, np.float64)
    return answer.shape == reference.shape and bool(
        np.allclose(answer, reference, rtol=rtol, atol=atol))


def match_mistake(answer: Any, mistakes: Sequence[tuple[np.ndarray | float, str]],
                  rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Raise the hint of the first deliberately wrong reference the answer equals."""
    for wrong, hint in mistakes:
        if close(answer, wrong, rtol, atol):
            raise NotYet(hint)


def first_difference(answer: np.ndarray, reference: np.ndarray) -> str:
    """Where an answer is furthest from the reference, in words."""
    index = np.unravel_index(np.argmax(np.abs(answer - reference)), reference.shape)
    return (f"at index {list(map(int, index))} expected {fmt(reference[index])}, "
            f"got {fmt(answer[index])}")
