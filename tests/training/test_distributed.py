"""Data-parallel training (deepfm_lite.training.distributed) and the GPU options' checks
(deepfm_lite.training.gpu).

The main test launches PyTorch's own launcher, ``python -m torch.distributed.run`` (what the
``torchrun`` command runs), with two gloo processes on the CPU.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from deepfm_lite import cli
from deepfm_lite.checkpoint import load
from deepfm_lite.data import make_criteo_like, write_criteo_tsv
from deepfm_lite.data.prepared import load_prepared, prepare_file
from deepfm_lite.models import build_model
from deepfm_lite.training import evaluate, fit
from deepfm_lite.training.distributed import (
    check_launch,
    exit_process,
    launched_by_torchrun,
    process_device,
    rank_block,
    start,
)
from deepfm_lite.training.gpu import amp_dtype
from deepfm_lite.training.peers import ranks_named, transport_message

# 3001 generated Criteo-like rows give 2401 training rows: 15 global batches of 2 x 80 rows and
# a last one of a single row, which leaves rank 1 an empty block (the step must still take part
# in DDP's all-reduce, and the mean loss must still be that of the one row).
ROWS, BATCH = 3001, 80
NETWORK = ["--epochs", "2", "--dropout", "0", "--hidden", "16,16", "--embed-dim", "4",
           "--seed", "3", "--device", "cpu", "--json", "--no-progress"]

# What each torchrun process runs: the command line's own main() and exit, with a --save path
# named after the process's rank, so that a file written by rank 1 would show.
RANK_SCRIPT = textwrap.dedent("""
    import os, sys
    from deepfm_lite.cli import main
    from deepfm_lite.training.distributed import exit_process
    exit_process(main(sys.argv[1:] + ["--save", f"{sys.argv[0]}.rank{os.environ['RANK']}.pt"]))
""")


# The same, and each rank writes its process id to <script>.rank<N>.pid at its first training
# step (DDP's first forward), so that a test can stop or kill rank 1 while it trains.
WATCHED_RANK_SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from torch.nn.parallel import DistributedDataParallel
    from deepfm_lite.cli import main
    from deepfm_lite.training.distributed import exit_process
    forward = DistributedDataParallel.forward
    def first_forward(self, *args, **kwargs):
        DistributedDataParallel.forward = forward
        pid_file = Path(f"{sys.argv[0]}.rank{os.environ['RANK']}.pid")
        pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
        pid_file.with_suffix(".tmp").replace(pid_file)
        return forward(self, *args, **kwargs)
    DistributedDataParallel.forward = first_forward
    exit_process(main(sys.argv[1:]))
""")
# torchrun's variables (torch 2.13 sets these and more: GROUP_RANK, LOCAL_WORLD_SIZE, ...).
TORCHRUN_ENV = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "TORCHELASTIC_RUN_ID": "x",
                "MASTER_ADDR": "localhost", "MASTER_PORT": "29500"}


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distributed")
    source = write_criteo_tsv(make_criteo_like(ROWS, seed=3), folder / "train.txt")
    prepare_file(source, folder / "prepared", split=(0.8, 0.1, 0.1), seed=3, min_count=2,
                 progress=False)
    return folder / "prepared"


@pytest.fixture(scope="module")
def two_way_dir(tmp_path_factory):
    """A 90/10 split: it trains without early stopping, as many epochs as asked."""
    folder = tmp_path_factory.mktemp("distributed_two_way")
    source = write_criteo_tsv(make_criteo_like(ROWS, seed=3), folder / "train.txt")
    prepare_file(source, folder / "prepared", split=(0.9, 0.1), seed=3, min_count=2,
                 progress=False)
    return folder / "prepared"


def _state(path):
    return {k: v for k, v in load(path).state_dict().items() if v.is_floating_point()}


def _max_difference(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.slow
def test_two_gloo_processes_reach_the_model_of_one_process_at_twice_the_batch(
        prepared_dir, tmp_path, capsys):
    data = load_prepared(prepared_dir)
    assert len(data.train) % (2 * BATCH) == 1, "pick ROWS so the last global batch has 1 row"
    train = ["train", "--prepared", str(prepared_dir), *NETWORK]
    script = tmp_path / "train_rank.py"
    script.write_text(RANK_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         str(script), *train, "--batch-size", str(BATCH)],
        capture_output=True, text=True, env=env, timeout=180)
    assert launched.returncode == 0, launched.stderr[-3000:]
    printed = [line for line in launched.stdout.splitlines() if line.strip()]
    assert len(printed) == 1, launched.stdout  # rank 1 computed the report but did not print it
    report = json.loads(printed[0])
    assert report["processes"] == 2
    two = tmp_path / "train_rank.py.rank0.pt"
    assert two.exists()
    assert not (tmp_path / "train_rank.py.rank1.pt").exists()  # only rank 0 saves

    one = tmp_path / "one.pt"
    assert cli.main([*train, "--batch-size", str(2 * BATCH), "--save", str(one)]) == 0
    one_report = json.loads(capsys.readouterr().out)
    two_state, one_state = _state(two), _state(one)
    # float32 tolerance: DDP adds the two ranks' gradient sums where one process sums all
    # 2B rows at once, a different order of the same float32 additions (a relative 1e-7 per
    # gradient). Adam divides each update by the gradient's running scale, so a weight moves
    # by lr x (relative rounding of m / sqrt(v)) more or less per step: measured, at most
    # 6e-7 after these 32 steps (lr 3e-3), against 1e-5 allowed. The control below shows that
    # other batches (1 process at batch B) move weights by > 1e-3.
    assert _max_difference(two_state, one_state) < 1e-5
    control = build_model("deepfm", data.field_dims, seed=3, embed_dim=4, hidden=[16, 16],
                          dropout=0.0)
    fit(control, data.train, data.valid, epochs=2, batch_size=BATCH, lr=3e-3, seed=3,
        device="cpu", patience=1, progress=False)
    assert _max_difference(dict(control.state_dict()), one_state) > 1e-3

    # The report's metrics are those of the whole test split (gathered from both ranks), not
    # of one rank's half: they equal an in-process evaluation of the saved model on all rows.
    whole = evaluate(load(two), data.test)
    assert report["test_rows"] == len(data.test) and report["train_rows"] == len(data.train)
    assert report["auc"] == pytest.approx(whole["auc"], abs=1e-12)
    assert report["logloss"] == pytest.approx(whole["logloss"], rel=1e-6)
    assert report["auc"] == pytest.approx(one_report["auc"], abs=1e-3)
    assert report["epochs_run"] == one_report["epochs_run"]


def test_rank_blocks_cover_every_row_once():
    for rows in (0, 1, 5, 160, 161):
        for world in (1, 2, 3):
            blocks = [rank_block(rows, _Rank(rank, world)) for rank in range(world)]
            covered = [row for block in blocks for row in range(block.start, block.stop)]
            assert covered == list(range(rows))
            sizes = [block.stop - block.start for block in blocks]
            assert max(sizes) - min(sizes) <= 1


class _Rank:
    def __init__(self, rank, world_size):
        self.rank, self.world_size = rank, world_size


def test_without_torchrun_variables_training_stays_in_one_process():
    assert launched_by_torchrun(TORCHRUN_ENV) and check_launch(TORCHRUN_ENV)
    for name in TORCHRUN_ENV:  # each one missing: not torchrun
        assert not launched_by_torchrun({k: v for k, v in TORCHRUN_ENV.items() if k != name})
    assert not check_launch({"MASTER_ADDR": "localhost", "PATH": "/bin"})  # no rank: alone
    assert start("cpu", environ={}) is None
    with pytest.raises(SystemExit) as exited:  # outside a group: an ordinary exit
        exit_process(3)
    assert exited.value.code == 3


def test_process_device_under_torchrun():
    assert process_device("cpu", 1) == torch.device("cpu")
    with pytest.raises(ValueError, match="cuda:LOCAL_RANK"):
        process_device("cuda:1", 0)
    if not torch.cuda.is_available():
        assert process_device("auto", 0) == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            process_device("cuda", 0)


def test_amp_is_refused_on_the_cpu_and_when_unknown():
    assert amp_dtype(None, "cpu") is None and amp_dtype("off", "cpu") is None
    with pytest.raises(ValueError, match="--amp bf16: mixed precision is for a CUDA GPU"):
        amp_dtype("bf16", torch.device("cpu"), "--amp")
    with pytest.raises(ValueError, match="amp must be bf16, fp16 or off"):
        amp_dtype("int8", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="on the cpu"):
            amp_dtype("fp16", "auto")  # auto picks the CPU here


def test_fit_refuses_amp_on_the_cpu(appstore_small):
    model = build_model("lr", appstore_small.field_dims)
    with pytest.raises(ValueError, match="amp fp16"):
        fit(model, appstore_small.train, epochs=1, device="cpu", amp="fp16", progress=False)


@pytest.mark.parametrize("arguments, message", [
    (["--device", "cpu", "--amp", "bf16"], "--amp bf16: mixed precision is for a CUDA GPU"),
    (["--amp", "int8"], "argument --amp: invalid choice"),
])
def test_cli_amp_errors_are_one_line_with_exit_code_2(arguments, message, capsys):
    code = cli.main(["train", "--rows", "500", "--epochs", "1", *arguments])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cli_device_cuda_without_a_gpu_is_one_line_with_exit_code_2(capsys):
    code = cli.main(["train", "--rows", "500", "--epochs", "1", "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no CUDA GPU" in err, err


@pytest.mark.parametrize("stray, named", [
    ({"RANK": "1", "WORLD_SIZE": "2"},
     "RANK=1 and WORLD_SIZE=2 are set but torchrun did not start this process (LOCAL_RANK, "
     "TORCHELASTIC_RUN_ID, MASTER_ADDR or MASTER_PORT not set)"),
    ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "localhost",
      "MASTER_PORT": "29500"},
     "RANK=0, WORLD_SIZE=2 and LOCAL_RANK=0 are set but torchrun did not start this process "
     "(TORCHELASTIC_RUN_ID not set)"),
])
def test_torchrun_variables_without_torchrun_are_refused_at_once(stray, named, monkeypatch,
                                                                  capsys):
    # Left in a shell, they made a plain `train` wait for a peer (for ever, with MASTER_ADDR
    # and MASTER_PORT set too): refused before any data is read.
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in stray.items():
        monkeypatch.setenv(name, value)
    began = time.monotonic()
    code = cli.main(["train", "--rows", "500", "--epochs", "1", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert named in err and err.endswith("or start the run with torchrun"), err
    assert time.monotonic() - began < 5


def test_peer_messages_read_well():
    assert ranks_named([1]) == "rank 1" and ranks_named([1, 2, 3]) == "ranks 1, 2 and 3"
    measured = RuntimeError(  # what torch 2.13's gloo raises when a peer was killed
        "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error "
        "[127.0.0.1]:55972: Connection reset by peer. This is typically caused by a remote "
        "worker hanging or bugs in the application. Check the logs of the remote worker.")
    assert transport_message(measured) == ("Read error [127.0.0.1]:55972: Connection reset "
                                           "by peer.")


def _launch_and_signal(tmp_path, prepared, sent: signal.Signals, timeout_s: int):
    """Start 2 ranks under torchrun on ``prepared`` (many epochs), send ``sent`` to rank 1 at
    its first training step; return (seconds from the signal to the end, the run's output)."""
    script = tmp_path / "watched_rank.py"
    script.write_text(WATCHED_RANK_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", str(script), "train", "--prepared", str(prepared),
               *NETWORK, "--epochs", "1000", "--batch-size", str(BATCH),
               "--timeout", str(timeout_s)]
    pid_files = [Path(f"{script}.rank{rank}.pid") for rank in (0, 1)]
    launched = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not pid_files[1].exists():
            assert launched.poll() is None, launched.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "rank 1 never started training"
            time.sleep(0.05)
        os.kill(int(pid_files[1].read_text()), sent)
        signalled = time.monotonic()
        out, err = launched.communicate(timeout=timeout_s + 60)
        return time.monotonic() - signalled, out + err
    finally:
        launched.kill()
        launched.wait()
        for pid_file in pid_files:  # a rank left over (stopped) ends here, if it is ours
            if pid_file.exists():
                _end(int(pid_file.read_text()), script)


def _end(pid: int, script: Path) -> None:
    try:
        if str(script) not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            return
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)
    except OSError:  # gone already (or no /proc on this system)
        pass


@pytest.mark.slow
def test_a_frozen_rank_ends_the_run_within_the_timeout_naming_it(two_way_dir, tmp_path):
    # Before: rank 0 and torchrun waited torch's default 30 minutes without a word.
    timeout_s = 10
    seconds, output = _launch_and_signal(tmp_path, two_way_dir, signal.SIGSTOP, timeout_s)
    errors = [line for line in output.splitlines() if line.startswith("deepfm_lite: error:")]
    assert len(errors) == 1, output[-3000:]
    assert errors[0].startswith(  # then "recv" or "send operation to complete": where it waited
        f"deepfm_lite: error: rank 1 stopped answering (no reply within the {timeout_s} s "
        "collective timeout; its process was stopped (SIGSTOP?) and is now ended): Timed out "
        f"waiting {timeout_s}000ms for "), errors
    # measured 10.4 s on 2 cores: rank 0 waits the timeout, then ends rank 1 (torchrun's own
    # SIGTERM cannot reach a stopped process: it would wait 30 s more before its SIGKILL)
    assert seconds < timeout_s + 8, seconds
    assert "a bug?" not in output


@pytest.mark.slow
def test_a_killed_rank_is_named_as_the_lost_peer(two_way_dir, tmp_path):
    seconds, output = _launch_and_signal(tmp_path, two_way_dir, signal.SIGKILL, 60)
    errors = [line for line in output.splitlines() if line.startswith("deepfm_lite: error:")]
    assert len(errors) == 1, output[-3000:]
    assert errors[0].startswith("deepfm_lite: error: rank 1 stopped answering (connection "
                                "closed; its process has ended): "), errors
    assert "a bug?" not in output and "unexpected" not in output
    assert seconds < 20, seconds  # the connection closes at once: no timeout to wait for
