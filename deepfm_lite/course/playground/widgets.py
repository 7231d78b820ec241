"""The playground's panel: settings, Train and Stop, a live plot and the comparison table.

``playground.show()`` builds a :class:`Playground` and displays it. Train reads the settings,
checks them (a bad one is named in the status line and nothing starts) and trains in a
background thread, so the notebook stays usable. After every epoch the plot is redrawn: the
training loss and the validation AUC of this run and of the earlier ones, with the oracle's
validation AUC as a dashed line. When the run ends, its row joins the comparison table
(:attr:`Playground.table`, also shown under the plot).

Stop asks the run to end after the epoch in progress. The run is then tested as it stands and
its row is added to the table marked ``stopped=True``, with ``epochs`` the number it trained: a
row is added once, whole, when its test scores exist, so the table never holds half a run.

Only widget traits are set from the training thread (an image's bytes, an output's list of
outputs, a label's text); ipywidgets sends each change to the front end from any thread. While
a run is in progress, train nothing else in the same kernel: both would draw dropout masks from
torch's one global random generator, and neither would repeat with its seed.
"""

from __future__ import annotations

import html
import io
import threading
from typing import Any

import ipywidgets as widgets
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ...data import DATASETS
from ...models import MODELS
from .run import DEFAULTS, PlaygroundError, check_settings, comparison_table, run
from .run import usage as usage_text

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TIME_HINT = ("Time grows with rows x epochs: twice the rows or twice the epochs take about twice "
             "as long. The defaults need about 5 s of computing on a free CPU core; a busy "
             "machine takes longer.")
PLOTTED_RUNS = 6  # the latest runs drawn in the plot; the table keeps every run


def _setting_widgets(start: dict[str, Any]) -> dict[str, widgets.Widget]:
    """One input widget per setting, keyed like :func:`~deepfm_lite.course.playground.run`'s
    arguments."""
    hidden = start["hidden"]
    inputs = {
        "dataset": widgets.Dropdown(options=list(DATASETS), value=start["dataset"],
                                    description="data set"),
        "rows": widgets.IntText(value=start["rows"], step=10_000, description="rows"),
        "model": widgets.Dropdown(options=list(MODELS), value=start["model"],
                                  description="model"),
        "embed_dim": widgets.IntText(value=start["embed_dim"], description="embedding size"),
        "hidden": widgets.Text(value=hidden if isinstance(hidden, str)
                               else "-".join(map(str, hidden)), description="hidden layers"),
        "dropout": widgets.FloatText(value=start["dropout"], step=0.1,
                                     description="dropout (p)"),
        "epochs": widgets.IntText(value=start["epochs"], description="epochs"),
        "lr": widgets.FloatText(value=start["lr"], step=1e-3, description="learning rate"),
        "seed": widgets.IntText(value=start["seed"], description="seed"),
    }
    for name, widget in inputs.items():
        widget.style = {"description_width": "8em"}
        widget.layout = widgets.Layout(width="18em")
        widget.add_class(f"deepfm-playground-{name}")
    return inputs


def draw_epochs(curves: list[tuple[str, list[dict]]], oracle_auc: float | None) -> bytes:
    """PNG of two panels: training loss and validation AUC per epoch, one line per run
    (``curves``: label and fit's epoch rows), the oracle's validation AUC dashed."""
    figure = Figure(figsize=(10, 3.6), dpi=80)
    FigureCanvasAgg(figure)  # a canvas of its own: no pyplot, safe in a background thread
    loss_axes, auc_axes = figure.subplots(1, 2)
    for label, epochs in curves[-PLOTTED_RUNS:]:
        numbers = [row["epoch"] for row in epochs]
        loss_axes.plot(numbers, [row["train_loss"] for row in epochs], marker="o", label=label)
        auc_axes.plot(numbers, [row["valid_auc"] for row in epochs], marker="o", label=label)
    if oracle_auc is not None:
        auc_axes.axhline(oracle_auc, color="black", linestyle="--", label="oracle")
    loss_axes.set(title="Training loss per epoch", xlabel="epoch",
                  ylabel="training loss (LogLoss)")
    auc_axes.set(title="Validation AUC per epoch", xlabel="epoch", ylabel="validation AUC")
    for axes in (loss_axes, auc_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
        if curves or axes is auc_axes and oracle_auc is not None:
            axes.legend(fontsize="small")
    figure.suptitle("Playground: training loss and validation AUC, epoch by epoch")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _in_kernel() -> bool:
    """True inside a Jupyter kernel, the only place a widget can reach a front end."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _execution_count() -> int | None:
    from IPython import get_ipython

    shell = get_ipython()
    return None if shell is None else shell.execution_count


class Playground:
    """The panel. ``rows`` holds the finished runs' rows, ``table`` the comparison table,
    ``epochs`` the epoch rows of the run in progress (or the last one), ``error`` the message
    of the last run that failed."""

    def __init__(self, **start: Any):
        start = {**DEFAULTS, **start}
        self.rows: list[dict[str, Any]] = []
        self.epochs: list[dict] = []
        self.error: str | None = None
        self._curves: list[tuple[str, list[dict]]] = []
        self._oracle_auc: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards rows and curves against the training thread
        self._shown_in: Any = None
        self.inputs = _setting_widgets(start)
        self.train_button = widgets.Button(description="Train", button_style="primary",
                                           icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.train_button.on_click(self._on_train)
        self.stop_button.on_click(lambda _button: self.stop())
        self.status = widgets.HTML("<p>Choose the settings and press <b>Train</b>.</p>")
        # Fits a half-width panel: the plot scales down, the table scrolls sideways.
        self.plot = widgets.Image(value=draw_epochs([], None), format="png",
                                  layout=widgets.Layout(width="100%", max_width="800px",
                                                        height="auto"))
        self.table_output = widgets.Output(layout=widgets.Layout(max_width="100%",
                                                                 overflow="auto"))
        for name in ("train_button", "stop_button", "status", "plot", "table_output"):
            getattr(self, name).add_class(f"deepfm-playground-{name.replace('_', '-')}")
        self.widget = self._layout()

    # ---- what a teacher reads

    @property
    def table(self) -> pd.DataFrame:
        """The comparison table: one row per finished run, stopped ones marked."""
        with self._lock:
            return comparison_table(list(self.rows))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def settings(self) -> dict[str, Any]:
        """The settings the inputs hold now, checked (:class:`PlaygroundError` names a bad
        one)."""
        return check_settings(**{name: widget.value for name, widget in self.inputs.items()})

    # ---- actions

    def train(self) -> threading.Thread:
        """Start a run with the inputs' settings in a background thread and return it."""
        if self.running:
            raise RuntimeError("a run is in progress: press Stop or wait for it to finish")
        settings = self.settings()
        number = len(self.rows) + 1
        self._stop.clear()
        self.error, self.epochs = None, []
        with self._lock:
            self._curves.append((f"#{number} {settings['model']}", self.epochs))
        self._set_running(True)
        self._say(f"Run {number}: preparing {settings['rows']:,} {settings['dataset']} rows "
                  f"and training {settings['model']}...")
        self._thread = threading.Thread(target=self._work, args=(number, settings),
                                        name="deepfm-playground", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Ask the run in progress to stop after its current epoch."""
        if self.running:
            self._stop.set()
            self._say("Stopping after the current epoch...")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run in progress; True when none is left running."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    # ---- the training thread

    def _work(self, number: int, settings: dict[str, Any]) -> None:
        try:
            row = run(**settings, on_epoch=self._on_epoch, should_stop=self._stop.is_set)
        except Exception as error:  # noqa: BLE001 - a thread's exception would be lost: show it
            self.error = f"{type(error).__name__}: {error}"
            with self._lock:  # its curve goes too: the plot shows the runs of the table
                self._curves = [curve for curve in self._curves if curve[1] is not self.epochs]
            self._say(f"Run {number} failed, nothing added to the table: {self.error}")
        else:
            with self._lock:
                self.rows.append(row)
            self._show_table()
            how = (f"stopped after {row['epochs']} of {settings['epochs']} epochs"
                   if row["stopped"] else f"finished {row['epochs']} epochs")
            self._say(f"Run {number} {how} in {row['seconds']:.1f} s: test AUC "
                      f"{row['auc']:.4f}, {row['gap_to_oracle']:.4f} below the oracle. "
                      "Its row is in the table.")
        finally:
            self._set_running(False)

    def _on_epoch(self, row: dict) -> None:
        self._oracle_auc = row["oracle_valid_auc"]
        with self._lock:
            self.epochs.append(row)
            curves = [(label, list(epochs)) for label, epochs in self._curves]
        self.plot.value = draw_epochs(curves, self._oracle_auc)
        if not self._stop.is_set():
            self._say(f"Epoch {row['epoch']}: training loss {row['train_loss']:.4f}, "
                      f"validation AUC {row['valid_auc']:.4f} (oracle "
                      f"{row['oracle_valid_auc']:.4f}).")

    # ---- widgets

    def _on_train(self, _button: Any = None) -> None:
        try:
            self.train()
        except (PlaygroundError, RuntimeError) as error:
            self.error = str(error)
            self._say(f"Not started: {error}")

    def _set_running(self, running: bool) -> None:
        self.train_button.disabled = running
        self.stop_button.disabled = not running
        for widget in self.inputs.values():
            widget.disabled = running

    def _say(self, text: str) -> None:
        self.status.value = f"<p>{html.escape(text)}</p>"

    def _show_table(self) -> None:
        table = self.table
        shown = table.round({"auc": 4, "logloss": 4, "oracle_auc": 4, "gap_to_oracle": 4,
                             "seconds": 1})
        self.table_output.outputs = ({
            "output_type": "display_data", "metadata": {},
            "data": {"text/plain": shown.to_string(), "text/html": shown.to_html()},
        },)

    def _layout(self) -> widgets.Widget:
        names = list(self.inputs)
        columns = [widgets.VBox([self.inputs[n] for n in names[i:i + 3]]) for i in (0, 3, 6)]
        settings = widgets.HBox(columns, layout=widgets.Layout(flex_flow="row wrap"))  # narrow:
        buttons = widgets.HBox([self.train_button, self.stop_button])  # columns go one under
        hint = widgets.HTML(f"<p><i>{html.escape(TIME_HINT)}</i></p>")
        box = widgets.VBox([settings, buttons, hint, self.status, self.plot, self.table_output],
                           layout=widgets.Layout(max_width="100%"))
        box.add_class("deepfm-playground")
        return box

    # ---- display

    def display(self) -> None:
        """Show the panel in a Jupyter kernel; elsewhere print how to use ``run`` instead."""
        self._shown_in = _execution_count() if _in_kernel() else None
        if not _in_kernel():
            print(usage_text())
            return
        from IPython.display import display

        view = self.widget._repr_mimebundle_()[WIDGET_VIEW]
        display({"text/plain": usage_text(), WIDGET_VIEW: view}, raw=True)

    def _ipython_display_(self) -> None:
        if self._shown_in is None or self._shown_in != _execution_count():
            self.display()
