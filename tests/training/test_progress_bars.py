"""Progress bars draw as text, never as widgets: a notebook saved after training shows them
again when reopened (a widget bar would read "Error displaying widget: model not found")."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from deepfm_lite import settings

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_outside_a_kernel_the_bar_goes_to_stderr(capsys):
    bar = settings.progress_bar(range(3), desc="steps", disable=False)
    assert not settings.in_jupyter_kernel()
    for _ in bar:
        pass
    bar.close()
    out, err = capsys.readouterr()
    assert out == "" and "steps" in err


def test_in_a_kernel_the_bar_is_text_on_stdout(monkeypatch, capsys):
    monkeypatch.setattr(settings, "in_jupyter_kernel", lambda: True)
    bar = settings.progress_bar(total=2, desc="epoch 1/1", disable=False)
    bar.update(2)
    bar.close()
    out, err = capsys.readouterr()
    assert "epoch 1/1" in out and err == ""
    assert type(bar).__module__ == "tqdm.std"  # not tqdm.notebook's widget


@pytest.mark.kernels
def test_a_notebook_that_trained_with_bars_saves_no_widget(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import deepfm_lite as dl\n"
        "data = dl.load_dataset('appstore', 3000, seed=0)\n"
        "model = dl.build_model('fm', data.field_dims, seed=0)\n"
        "history = dl.fit(model, data.train, epochs=1, progress=True)\n"
        "print('trained')")])
    environment = {**os.environ, "DEEPFM_LITE_PROGRESS": "1"}
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.km = client.create_kernel_manager()
    client.start_new_kernel(env=environment)
    with client.setup_kernel():
        client.execute_cell(notebook.cells[0], 0)
    outputs = notebook.cells[0].outputs
    assert any("trained" in output.get("text", "") for output in outputs)
    assert any("epoch 1/1" in output.get("text", "") for output in outputs)  # the bar, as text
    assert not [output for output in outputs if WIDGET_VIEW in output.get("data", {})]
