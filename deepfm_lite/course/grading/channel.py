"""How the grader learns a check's verdict: from the check's result, never from printed text.

A notebook can print anything, ``✅ check_logloss passed: ...`` before its real, failing check
included, and it can replace ``checks.check_logloss`` in its kernel with a function that only
prints that line. So the grader reads no printed line. Instead:

1. Every check goes through :func:`deepfm_lite.course.checks.common.run_check`, which appends
   its :class:`~deepfm_lite.course.checks.CheckResult` to ``common.RECORDED`` with the
   ``module:qualname`` of the check body that produced it
   (``deepfm_lite.course.checks.ex01_metrics:check_logloss.<locals>.body``).
2. Before the notebook's first cell the grader imports the checks in the kernel
   (:data:`SETUP_SOURCE`, outside the cells' time limit). After each check cell it runs a cell
   of its own (:func:`reader_source`, kept out of the kernel's history): it takes what
   ``RECORDED`` holds, empties it, and publishes it as a ``display_data`` message of MIME type
   :data:`VERDICT_MIME`, tagged with a random token made for that one cell. The grader reads
   only that cell's messages, and only one with that token (:func:`recorded_results`): text
   printed by the notebook is a ``stream`` message, and a display of its own with the MIME
   type comes from another cell and lacks the token.
3. Of the results, the grader keeps the last one of the check the cell names, and accepts it
   only if it came from the course's check body: the module under
   ``deepfm_lite.course.checks``, the qualname under the check's name (:func:`check_verdict`).
   A replaced check that only prints leaves no result ("showed no verdict"); one that calls
   ``run_check`` with a body of its own is named as not the course's check.
4. Every check the solution notebook calls must give a verdict (:func:`checks_called`): a
   check cell deleted or turned into a ``print`` leaves its check "never ran".

This stops what a learner can do by accident or by a shortcut. It cannot stop code in the
same kernel that sets out to tamper with the grader: that code can append a forged result
with a genuine-looking origin to ``RECORDED``, wrap the real check so that it grades a
reference answer, or hook IPython's events to read the token before the grader's cell runs.
Grading other people's work for marks needs more; TEACHING.md says what.
"""

from __future__ import annotations

import re
import secrets

from .report import CheckVerdict

VERDICT_MIME = "application/vnd.deepfm-lite.verdicts+json"
CHECKS_MODULE = "deepfm_lite.course.checks"
SETUP_SOURCE = f"import {CHECKS_MODULE}\n{CHECKS_MODULE}.common.RECORDED.clear()"
CHECK_NAME = re.compile(r"checks\.(check_\w+)\s*\(")

READER = '''def deepfm_lite_grader_{token}():
    import sys
    from IPython.display import publish_display_data
    common = sys.modules.get("{module}.common")
    recorded = list(getattr(common, "RECORDED", None) or [])
    del common.RECORDED[:]
    results = [[str(result.check), bool(result.passed), str(result.message), str(origin)]
               for result, origin in recorded]
    publish_display_data({{"{mime}": {{"token": "{token}", "results": results}}}})
deepfm_lite_grader_{token}()
del deepfm_lite_grader_{token}
'''


def new_token() -> str:
    """A random token for one reader cell."""
    return secrets.token_hex(16)


def reader_source(token: str) -> str:
    """The code of the grader's cell that publishes the recorded results with ``token``."""
    return READER.format(token=token, module=CHECKS_MODULE, mime=VERDICT_MIME)


def recorded_results(outputs: list, token: str) -> list[tuple[str, bool, str, str]] | None:
    """The results the grader's cell published with ``token``; None when it sent none."""
    for output in outputs:
        if output.get("output_type") != "display_data":
            continue
        payload = output.get("data", {}).get(VERDICT_MIME)
        if isinstance(payload, dict) and payload.get("token") == token:
            return [(str(c), bool(p), str(m), str(o)) for c, p, m, o in payload["results"]]
    return None


def checks_called(source: str) -> list[str]:
    """The checks a cell calls: ``checks.check_logloss(...)`` gives ``check_logloss``."""
    return CHECK_NAME.findall(source)


def genuine(check: str, origin: str) -> bool:
    """Whether a result with this ``module:qualname`` origin came from the course's check."""
    module, _, qualname = origin.partition(":")
    return module.startswith(CHECKS_MODULE + ".") and qualname.split(".")[0] == check


def check_verdict(results: list[tuple[str, bool, str, str]] | None, source: str, index: int,
                  error: str | None) -> CheckVerdict:
    """The verdict of the check cell ``index`` (``source``) from the results it recorded.

    ``error`` is the exception the cell raised, if any (a check never raises; an edited cell
    may).
    """
    where = f"the check in cell {index}"
    named = checks_called(source)
    if results is None:
        return CheckVerdict(where, False, f"{where}: the grader could not read its verdict "
                                          "(was the kernel's display machinery changed?)")
    chosen = [r for r in results if r[0] in named] if named else results
    if not chosen:
        if error:
            return CheckVerdict(where, False, f"{where} raised {error}")
        return CheckVerdict(named[0] if named else where, False,
                            f"{where} gave no verdict from the course's check; run it as it "
                            "was given (`feedback = checks.check_...(...)`)")
    check, passed, message, origin = chosen[-1]
    if not genuine(check, origin):
        return CheckVerdict(check, False, f"the verdict in cell {index} did not come from the "
                                          f"course's {check} (was the check replaced?); run "
                                          "the cell as it was given")
    return CheckVerdict(check, passed, message)


__all__ = ["SETUP_SOURCE", "VERDICT_MIME", "check_verdict", "checks_called", "genuine",
           "new_token", "reader_source", "recorded_results"]
