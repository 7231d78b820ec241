"""A playground for "what if" questions in class: ``playground.show()`` and ``playground.run()``.

``run(model="dnn", ...)`` trains one model and returns its row of the comparison table (see
:mod:`deepfm_lite.course.playground.run`); ``show()`` shows the panel of
:mod:`deepfm_lite.course.playground.widgets`: every setting, Train and Stop, a live plot, the table.
"""

from __future__ import annotations

from typing import Any

from .run import (
    DEFAULTS,
    PlaygroundError,
    check_settings,
    comparison_table,
    parse_hidden,
    prepared_data,
    run,
    usage,
)


def show(**settings: Any):
    """Show the playground's panel (settings as keyword arguments change its starting values);
    returns the :class:`~deepfm_lite.course.playground.widgets.Playground`, whose ``table``
    attribute holds the comparison table. Where widgets cannot be shown, the text says how to use
    :func:`run` instead."""
    from .widgets import Playground  # ipywidgets only for the panel

    panel = Playground(**settings)
    panel.display()
    return panel


__all__ = ["DEFAULTS", "PlaygroundError", "check_settings", "comparison_table", "parse_hidden",
           "prepared_data", "run", "show", "usage"]
