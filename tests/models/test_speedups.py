"""The speed-ups of deepfm_lite/layers/fast.py compute what the plain PyTorch pieces compute.

Also smoke-tests the benchmark scripts (benchmarks/*.py) on tiny sizes, without the peers.
"""

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import math
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import deepfm_lite as dl
from deepfm_lite.layers import MLP, fm_second_order
from deepfm_lite.layers.fast import FastDropout, dropout_mask, gather_rows
from deepfm_lite.training.loop import make_adam


@pytest.fixture
def one_thread():
    """Many tiny tensor operations: one thread avoids waiting on a busy second core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---- FastDropout: nn.Dropout's distribution ---------------------------------------------------


# 0.25 and 0.5 take the random-byte path of dropout_mask, 0.1 and 0.8 the float-uniform one.
@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.8])
def test_fast_dropout_keeps_each_unit_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    n = 1_000_000
    kept = float((FastDropout(p)(torch.ones(n)) != 0).float().mean())
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * sigma
    # nn.Dropout on the same number of units lands within the same band: same distribution.
    plain = float((nn.Dropout(p)(torch.ones(n)) != 0).float().mean())
    assert abs(kept - plain) < 5 * math.sqrt(2) * sigma


@pytest.mark.parametrize("p", [0.05, 0.1, 0.123, 0.2, 0.25, 0.5, 0.9])
def test_fast_dropout_scales_kept_units_exactly_as_nn_dropout(p):
    torch.manual_seed(1)
    x = torch.randn(50_000)
    fast, plain = FastDropout(p)(x), nn.Dropout(p)(x)
    kept = fast != 0
    assert torch.equal(fast[kept & (plain != 0)], plain[kept & (plain != 0)])  # bit-identical
    assert torch.equal(fast[kept], x[kept] * (torch.ones(()) / (1 - p)))
    assert (fast[~kept] == 0).all()


@pytest.mark.parametrize("p", [0.25, 0.5, 0.3])
def test_fast_dropout_masks_are_independent(p):
    torch.manual_seed(2)
    mask = FastDropout(p)(torch.ones(2000, 500)) != 0
    keep = 1 - p
    # Neighbouring units (for p = 0.25 and 0.5, bytes of one 64-bit draw), the same unit in
    # neighbouring rows, and units eight apart (the same byte of neighbouring draws): each pair
    # of decisions falls in the four cells with probabilities keep^2, keep(1-keep), ...
    for a, b in [(mask[:, :-1], mask[:, 1:]), (mask[:-1], mask[1:]), (mask[:, :-8], mask[:, 8:])]:
        counts = torch.stack([(a & b).sum(), (a & ~b).sum(), (~a & b).sum(), (~a & ~b).sum()])
        expected = a.numel() * torch.tensor([keep * keep, keep * p, p * keep, p * p])
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 21.1  # chi-square, 3 degrees of freedom, p = 1e-4
    # Two calls draw two different masks.
    assert not torch.equal(mask, FastDropout(p)(torch.ones(2000, 500)) != 0)


@pytest.mark.parametrize("shape", [(1,), (3, 5), (7, 3, 2), (1024, 400)])
@pytest.mark.parametrize("p", [0.5, 0.125, 0.2])
def test_dropout_mask_has_the_shape_asked_and_only_two_values(shape, p):
    mask = dropout_mask(shape, p)
    assert mask.shape == shape and mask.dtype == torch.float32
    scale = torch.ones(()) / (1 - p)
    assert ((mask == 0) | (mask == scale)).all()


def test_dropout_mask_keeps_everything_for_p_zero_and_rejects_p_out_of_range():
    assert torch.equal(dropout_mask((4, 3), 0.0), torch.ones(4, 3))
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="drop probability.*got"):
            dropout_mask((4, 3), p)


def test_fast_dropout_is_the_identity_in_eval_mode_and_for_p_zero():
    x = torch.randn(64, 32)
    drop = FastDropout(0.5).eval()
    assert drop(x) is x
    assert FastDropout(0.0)(x) is x
    assert torch.equal(FastDropout(1.0)(x), torch.zeros_like(x))


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_fast_dropout_gradient_is_the_mask(one_thread, p):
    torch.manual_seed(3)
    x = torch.randn(256, 64, requires_grad=True)
    out = FastDropout(p)(x)
    grad = torch.randn_like(out)
    out.backward(grad)
    mask = (out != 0).float() / (1 - p)
    assert torch.allclose(x.grad, grad * mask, rtol=1e-6, atol=0)


def test_fast_dropout_same_seed_same_mask_and_dtype_kept():
    x = torch.randn(128, 16)
    torch.manual_seed(4)
    first = FastDropout(0.5)(x)
    torch.manual_seed(4)
    assert torch.equal(first, FastDropout(0.5)(x))
    assert FastDropout(0.5)(x.bfloat16()).dtype == torch.bfloat16
    inplace = x.clone()
    torch.manual_seed(4)
    assert FastDropout(0.5, inplace=True)(inplace) is inplace and torch.equal(inplace, first)


def test_mlp_uses_fast_dropout_which_is_an_nn_dropout():
    mlp = MLP(8, (4, 4), dropout=0.2)
    drops = [m for m in mlp.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 2 and all(isinstance(d, FastDropout) and d.p == 0.2 for d in drops)


# ---- gather_rows: F.embedding's rows and gradient ---------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(300, 10), (300,)])
def test_gather_rows_equals_f_embedding_forward_and_backward(shape, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(5)
        table = torch.randn(shape, generator=gen)
        index = torch.randint(0, shape[0], (4000,), generator=gen)  # many repeated rows
        grad = torch.randn((4000, *shape[1:]), generator=gen)
        fast = table.clone().requires_grad_()
        plain = table.clone().requires_grad_()
        rows = gather_rows(fast, index)
        reference = F.embedding(index, plain if plain.dim() == 2 else plain.unsqueeze(1))
        reference = reference if plain.dim() == 2 else reference.squeeze(1)
        assert torch.equal(rows, reference)
        rows.backward(grad)
        reference.backward(grad)
        assert torch.equal(fast.grad, plain.grad)  # same sums, same order: bit-identical
    finally:
        torch.set_num_threads(before)


def test_gather_rows_rejects_an_index_outside_the_table():
    with pytest.raises(IndexError):
        gather_rows(torch.randn(5, 3), torch.tensor([0, 5]))


def _plain_deepfm_logits(model, ids, values):
    """DeepFM's forward written with F.embedding and the module's own tensors."""
    index = ids + model.embedding.offsets
    vectors = F.embedding(index, model.embedding.weight) * values.unsqueeze(-1)
    weights = F.embedding(index, model.linear.weight.unsqueeze(1)).squeeze(-1)
    y_fm = (weights * values).sum(dim=1) + model.linear.bias + fm_second_order(vectors)
    return y_fm + model.mlp(vectors.flatten(1)).squeeze(1)


def test_deepfm_gradients_are_bit_identical_to_the_f_embedding_version():
    field_dims = [7, 30, 3, 12]
    model = dl.build_model("deepfm", field_dims, seed=0, embed_dim=4, hidden=(16, 16),
                           dropout=0.0)
    gen = torch.Generator().manual_seed(6)
    ids = torch.stack([torch.randint(0, d, (512,), generator=gen) for d in field_dims], dim=1)
    values = torch.rand(512, 4, generator=gen)
    labels = (torch.rand(512, generator=gen) < 0.3).float()
    grads = []
    for forward in (model, lambda i, v: _plain_deepfm_logits(model, i, v)):
        model.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(forward(ids, values), labels).backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
    for name in grads[0]:
        assert torch.equal(grads[0][name], grads[1][name]), name


# ---- make_adam: torch.optim.Adam's update ----------------------------------------------------


def _adam_run(optimizer_factory, weight_decay):
    gen = torch.Generator().manual_seed(7)
    start = [torch.randn(200, 10, generator=gen), torch.randn(64, 30, generator=gen),
             torch.randn(64, generator=gen)]
    params = [nn.Parameter(t.clone()) for t in start]
    optimizer = optimizer_factory(params, weight_decay)
    for step in range(100):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen) * (10.0 if step % 3 else 0.01)
        params[0].grad[::4] = 0.0  # rows of the table no batch touched
        optimizer.step()
    return start, params


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_make_adam_gives_torch_adams_updates_up_to_rounding(weight_decay, one_thread):
    start, fast = _adam_run(lambda ps, wd: make_adam(ps, lr=1e-2, weight_decay=wd), weight_decay)
    _, plain = _adam_run(lambda ps, wd: torch.optim.Adam(ps, lr=1e-2, weight_decay=wd,
                                                         foreach=False), weight_decay)
    _, other_lr = _adam_run(lambda ps, wd: torch.optim.Adam(ps, lr=1.01e-2, weight_decay=wd,
                                                            foreach=False), weight_decay)
    for s, f, p, o in zip(start, fast, plain, other_lr):
        moved = (p - s).abs().max()
        assert moved > 0.1  # the parameters travelled far in 100 steps
        assert (f - p).abs().max() < 1e-5  # float32 rounding, accumulated over 100 steps
        assert (o - p).abs().max() > 1e-3  # while a 1% larger step is visibly different


def test_make_adam_is_fused_on_the_cpu():
    optimizer = make_adam([nn.Parameter(torch.zeros(3))], lr=1e-3)
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"] is True


# ---- the benchmark scripts, on tiny sizes and without the peers --------------------------------

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {name: importlib.import_module(name)
               for name in ("bench_train", "compare_peers", "scaling")}
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def tiny_data(bench_modules):
    return bench_modules["bench_train"].load_data(1200, seed=0)


@pytest.fixture
def tiny(bench_modules, tiny_data, monkeypatch):
    """The scripts' data loader answers with one tiny split made once for the module."""
    monkeypatch.setattr(bench_modules["bench_train"], "load_data", lambda rows, seed=0: tiny_data)
    before = torch.get_num_threads()
    yield bench_modules
    torch.set_num_threads(before)


def test_bench_train_data_is_criteo_format(tiny_data):
    name, data = tiny_data
    assert name == "criteo-like" and len(data.train) == 1200 and len(data.field_dims) == 39


def test_plain_deepfm_matches_deepfm_lite_in_eval_mode(bench_modules, tiny_data):
    bt = bench_modules["bench_train"]
    _, data = tiny_data
    plain, fast = bt.build("plain", data.field_dims, 0), bt.build("deepfm_lite", data.field_dims, 0)
    assert any(type(m) is nn.Dropout for m in plain.modules())
    assert not any(type(m) is nn.Dropout for m in fast.modules())
    assert torch.equal(bt.plain_predict(plain, data.test), bt.plain_predict(fast, data.test))


def test_each_ablation_variant_has_the_dropout_it_names(bench_modules):
    bench = bench_modules["bench_train"]
    dropouts = {}
    for name, flags in bench.ABLATION.items():
        model_flags = {k: v for k, v in flags.items() if k != "fused_adam"}
        model = bench.build("plain", [4, 5, 6], seed=0, **model_flags)
        dropouts[name] = {type(m) for m in model.modules() if isinstance(m, nn.Dropout)}
    assert dropouts["plain loop"] == {nn.Dropout}
    assert dropouts["+ mask = uniform >= p"] == {bench.UniformMaskDropout}
    assert dropouts["+ FastDropout (byte masks)"] == {FastDropout}


def test_bench_train_json_and_table(tiny, capsys, tmp_path, monkeypatch):
    # One run: the table on stdout and the report as JSON in --json-out (what --json prints
    # instead: test_emit_json below). Each timed run is the script's own `--run` worker, called
    # here in this process; test_compare_peers_without_peers below starts a real fresh process
    # through the same in_fresh_process.
    bt = tiny["bench_train"]

    def in_this_process(script: str, argv: list[str]) -> dict:
        assert Path(script).name == "bench_train.py"
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            assert bt.main(argv) == 0
        return json.loads(shown.getvalue().strip().splitlines()[-1])

    monkeypatch.setattr(bt, "in_fresh_process", in_this_process)
    out = tmp_path / "bench.json"
    assert tiny["bench_train"].main(["--rows", "1200", "--reps", "1", "--batch-sizes", "256",
                                     "--threads", "1", "--json-out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "plain loop" in table and "deepfm_lite" in table and "samples/s" in table
    assert "matrix multiplies alone" in table
    report = json.loads(out.read_text())
    rows = {r["implementation"]: r for r in report["results"]}
    assert set(rows) == {"plain loop", "deepfm_lite"}
    bound = report["matmul_bound"]
    assert bound["train_samples_per_s"] > 0 and bound["infer_samples_per_s"] > 0
    for row in rows.values():
        assert row["train_samples_per_s"] > 0 and row["infer_samples_per_s"] > 0
        assert 0.0 <= row["auc"] <= 1.0 and row["logloss"] > 0
        assert tiny["bench_train"].format_rate(row["train_samples_per_s"]) in table
    assert report["config"]["train_rows"] == 1200 and report["machine"]["threads"] == 1


def test_bench_train_ablation(tiny, capsys):
    tiny["bench_train"].main(["--rows", "1200", "--ablation", "--rounds", "2", "--block", "1",
                              "--batch-sizes", "256", "--threads", "1", "--json"])
    rows = json.loads(capsys.readouterr().out)["ablation"]
    assert [r["variant"] for r in rows][0] == "plain loop" and rows[0]["speedup"] == 1.0
    assert len(rows) == 6 and all(r["train_samples_per_s"] > 0 for r in rows)


def test_bench_train_rejects_bad_arguments(bench_modules, capsys):
    for argv in (["--batch-sizes", "1024,big"], ["--reps", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            bench_modules["bench_train"].parse_args(argv)
        assert exit_info.value.code == 2
    assert "--batch-sizes" in capsys.readouterr().err


def test_compare_peers_without_peers(tiny, capsys, tmp_path):
    cp, out = tiny["compare_peers"], tmp_path / "peers.json"
    assert cp.main(["--rows", "1200", "--reps", "1", "--batch-sizes", "256", "--threads", "1",
                    "--only", "deepfm_lite", "--no-memory", "--json-out", str(out)]) == 0
    assert "deepfm_lite" in capsys.readouterr().out  # the table
    report = json.loads(out.read_text())
    assert list(report) == ["deepfm_lite"]
    entry = report["deepfm_lite"]
    for key in ("train_samples_per_s", "infer_samples_per_s", "auc", "logloss", "peak_rss_mb"):
        assert key in entry
    assert entry["train_samples_per_s"] > 0 and entry["peak_rss_mb"] is None
    with pytest.raises(SystemExit):
        cp.parse_args(["--only", "torchfm"])  # deepfm_lite is the reference of the ratios


def test_emit_json_prints_and_writes_the_same_report(bench_modules, capsys, tmp_path):
    report, out = {"results": [{"auc": 0.75}]}, tmp_path / "report.json"
    args = argparse.Namespace(json=True, json_out=str(out))
    bench_modules["bench_train"].emit_json(report, args)
    assert json.loads(capsys.readouterr().out) == report == json.loads(out.read_text())


def test_compare_peers_blocks_the_network(bench_modules):
    cp = bench_modules["compare_peers"]
    attempts = []
    with cp.no_network(attempts):
        with pytest.raises(cp.NetworkBlocked):
            socket.create_connection(("pypi.org", 443), timeout=1)
        with pytest.raises(cp.NetworkBlocked):
            socket.socket().connect(("127.0.0.1", 9))
    assert len(attempts) == 2
    assert socket.create_connection is not None and "refuse" not in repr(socket.create_connection)
    assert cp.peak_rss_mb() is None or cp.peak_rss_mb() > 10


def test_deepctr_imports_without_touching_the_network(bench_modules):
    """Only where DeepCTR-Torch is installed: its import must open no connection."""
    if importlib.util.find_spec("deepctr_torch") is None or "deepctr_torch" in sys.modules:
        pytest.skip("DeepCTR-Torch is not installed (or already imported)")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import threading, compare_peers as cp; "
            "attempts = []; module = cp.import_deepctr(attempts); "
            "alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]; "
            "print(module is not None, len(attempts), len(alive))")
    done = subprocess.run([sys.executable, "-c", code, str(BENCHMARKS)], capture_output=True,
                          text=True, timeout=300, check=True)
    assert done.stdout.split() == ["True", "0", "0"]
    assert "check the latest version" not in done.stdout + done.stderr


def test_scaling_quick(tiny, capsys, tmp_path):
    figure = tmp_path / "scaling.png"
    assert tiny["scaling"].main(["--rows", "1200", "--rounds", "1", "--quick", "--threads", "1",
                                 "--json", "--plot", str(figure)]) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert {p["factor"] for p in points} == {"rows", "batch_size", "embed_dim", "width"}
    assert all(p["train_samples_per_s"] > 0 for p in points) and figure.stat().st_size > 0
    widths = {p["width"]: p["mlp_mflop_per_sample"] for p in points if p["factor"] == "width"}
    assert widths[400] > widths[100]
