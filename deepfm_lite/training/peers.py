"""Who stopped answering: heartbeats of a torchrun run's ranks, read when a collective fails.

What gloo says (torch 2.13, measured with two CPU ranks): a collective whose peer is frozen
(SIGSTOP) fails after the process group's timeout with "Timed out waiting 10000ms for recv
operation to complete"; one whose peer was killed fails at once with "Read error
[127.0.0.1]:55972: Connection reset by peer". Neither names the rank, and the group is unusable
afterwards: a ``monitored_barrier`` then fails at once ("Application timeout caused pair
closure") instead of naming the ranks that did not arrive.

So every rank keeps a heartbeat in torchrun's key-value store, the TCPStore the launcher holds at
MASTER_ADDR:MASTER_PORT, outside every rank: a thread writes the rank's beat count and how many
collectives it has entered, four times a second (and its host and process id once). When a
collective fails, :meth:`PeerWatch.explain` reads the beats for up to :data:`LISTEN_S` seconds:
a rank whose beat stands still has stopped answering (frozen, or gone); when every beat moves, a
rank that entered fewer collectives than the others is behind. On this rank's own machine
``/proc`` tells more (stopped, ended), and a peer there that stopped answering is ended with
SIGKILL. torchrun would do the same, but only 30 s after the other ranks failed (measured: its
SIGTERM cannot reach a stopped process), so the run ends within the timeout plus a moment.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import torch.distributed as dist

COLLECTIVE_TIMEOUT_S = 300  # train --timeout: torch's own default is 30 minutes
BEAT_S = 0.25  # how often each rank's heartbeat thread writes
LISTEN_S = 2.0  # how long a rank whose collective failed watches the others' heartbeats
STORE_TIMEOUT_S = 5.0  # a store operation that takes longer gives up
ENDED = ("gone", "Z", "X")  # /proc states of a process that has ended
STOPPED = ("T", "t")  # stopped by a signal (SIGSTOP) or a debugger
COMMUNICATION_MARKERS = ("gloo", "nccl", "timed out", "connection reset", "connection closed",
                         "closed by peer", "broken pipe", "pair closure")


class PeerLostError(ConnectionError):
    """Another rank stopped answering (frozen, ended or too slow); the message names it."""


def is_communication_error(error: BaseException) -> bool:
    """True for the errors a collective raises when a peer fails (gloo, NCCL, the store)."""
    text = str(error).lower()
    return isinstance(error, dist.DistError) or any(m in text for m in COMMUNICATION_MARKERS)


def transport_message(error: BaseException) -> str:
    """The first line of a gloo / NCCL error, without gloo's source file and its boilerplate."""
    lines = str(error).strip().splitlines()
    text = re.sub(r"^\[[^\]]*:\d+\] ", "", lines[0] if lines else type(error).__name__)
    return text.split(" This is typically caused")[0]


def process_state(pid: int) -> str | None:
    """The state letter of process ``pid`` on this machine ("R", "S", "T", "Z"...), "gone"
    when there is none, ``None`` when this system has no ``/proc`` to tell."""
    if not Path("/proc/self/stat").exists():
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0] if fields else None


def parent_pid(pid: int) -> int | None:
    """The parent process id of ``pid`` on this machine, from ``/proc``; None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


class PeerWatch:
    """This rank's heartbeat in torchrun's store, and what the others' say when one fails.

    ``store_host:store_port`` is torchrun's store (MASTER_ADDR / MASTER_PORT); ``namespace``
    keeps one run's keys apart. If the store cannot be reached, the watch is blind: a failed
    collective is still reported in one line, without naming the rank.
    """

    def __init__(self, rank: int, world_size: int, timeout_s: float, store_host: str,
                 store_port: int, namespace: str):
        self.rank, self.world_size, self.timeout_s = rank, world_size, timeout_s
        self.collectives = 0  # collectives this rank has entered; the heartbeat publishes it
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "ppid": os.getppid()}
        self.stopping = threading.Event()
        self.beats = self.reader = None
        try:
            self.beats = self.connect(store_host, store_port, namespace)  # the thread's
            self.reader = self.connect(store_host, store_port, namespace)  # the main thread's
            self.beats.set(f"peer/{rank}", json.dumps(self.me))
        except Exception:  # noqa: BLE001 - no store, no names: the run itself goes on
            self.beats = self.reader = None
            return
        self.beat_count = 0
        self.thread = threading.Thread(target=self.beat, name="deepfm_lite-heartbeat",
                                       daemon=True)
        self.thread.start()

    @staticmethod
    def connect(host: str, port: int, namespace: str) -> dist.Store:
        store = dist.TCPStore(host, port, is_master=False, wait_for_workers=False,
                              timeout=timedelta(seconds=STORE_TIMEOUT_S))
        return dist.PrefixStore(namespace, store)

    def entered(self) -> None:
        """Count one more collective (every rank enters the same ones, in the same order)."""
        self.collectives += 1

    def beat(self) -> None:
        while not self.stopping.is_set():
            self.beat_count += 1
            try:
                self.beats.set(f"beat/{self.rank}", f"{self.beat_count} {self.collectives}")
            except Exception:  # noqa: BLE001 - the store is gone: the run is ending
                return
            self.stopping.wait(BEAT_S)

    def close(self) -> None:
        """Stop the heartbeat (the thread is a daemon: it never holds the process up)."""
        self.stopping.set()

    def read(self, key: str) -> str | None:
        try:
            if self.reader is None or not self.reader.check([key]):
                return None
            return self.reader.get(key).decode()
        except Exception:  # noqa: BLE001 - an unreadable key tells nothing
            return None

    def heartbeat(self, rank: int) -> tuple[int, int] | None:
        """(beats, collectives entered) of ``rank``, or None when unknown."""
        text = self.read(f"beat/{rank}")
        return None if text is None else tuple(int(n) for n in text.split())

    def local_pid(self, rank: int) -> int | None:
        """The process id of ``rank`` when it runs on this machine, else None."""
        text = self.read(f"peer/{rank}")
        peer = json.loads(text) if text else {}
        return peer.get("pid") if peer.get("host") == self.me["host"] else None

    def explain(self, error: BaseException) -> str:
        """One line naming the rank(s) behind a failed collective; ends a frozen local peer.

        Takes up to :data:`LISTEN_S` seconds: a peer's heartbeat must stand still that long (or
        ``/proc`` show its process ended or stopped) before it is named.
        """
        cause = (f"no reply within the {self.timeout_s:g} s collective timeout"
                 if "timed out" in str(error).lower() or "timeout" in str(error).lower()
                 else "connection closed")
        transport = transport_message(error)
        if self.reader is None:
            return f"a rank stopped answering ({cause}): {transport}"
        with contextlib.suppress(Exception):
            self.reader.set(f"reporting/{self.rank}", "1")  # alive: not the one to blame
        silent, states = self.listen()
        if silent is None:
            return f"a rank stopped answering ({cause}; no heartbeat to tell which): {transport}"
        if not silent:
            return self.behind(transport)
        details = [self.end_peer(r, states.get(r)) for r in silent]
        who = ranks_named(silent)
        said = "; ".join(d for d in details if d)
        return f"{who} stopped answering ({cause}{'; ' + said if said else ''}): {transport}"

    def listen(self) -> tuple[list[int] | None, dict[int, str]]:
        """The peers whose heartbeat stood still (None if some could not be read), and the /proc
        state of those on this machine."""
        peers = [r for r in range(self.world_size) if r != self.rank]
        first = {r: self.heartbeat(r) for r in peers}
        pids = {r: self.local_pid(r) for r in peers}
        answering: set[int] = set()
        states: dict[int, str] = {}
        deadline = time.monotonic() + LISTEN_S
        while True:
            for r in peers:
                if r in answering:
                    continue
                now = self.heartbeat(r)
                if self.read(f"reporting/{r}") or (now and first[r] and now[0] != first[r][0]):
                    answering.add(r)
                elif pids[r] is not None and (state := process_state(pids[r])) is not None:
                    states[r] = state
            waiting = [r for r in peers if r not in answering
                       and states.get(r) not in ENDED + STOPPED]
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(BEAT_S / 2)
        silent = [r for r in peers if r not in answering]
        if any(first[r] is None and states.get(r) not in ENDED + STOPPED for r in silent):
            return None, states  # a beat this rank could not read says nothing
        return silent, states

    def end_peer(self, rank: int, state: str | None) -> str:
        """Say what became of a silent peer; SIGKILL it if it runs here under our launcher."""
        pid = self.local_pid(rank)
        if pid is None:
            text = self.read(f"peer/{rank}")
            host = json.loads(text).get("host") if text else None
            return f"it runs on host {host}" if host else ""
        if state in ENDED:
            return "its process has ended"
        if parent_pid(pid) != self.me["ppid"]:
            return ""  # not a sibling under the same torchrun: leave it alone
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            return ("its process was stopped (SIGSTOP?) and is now ended" if state in STOPPED
                    else f"its process (pid {pid}, state {state}) was sent SIGKILL")
        return ""

    def behind(self, transport: str) -> str:
        """Every peer's heartbeat moves: name the ranks that entered fewer collectives."""
        entered = {r: beat[1] for r in range(self.world_size) if r != self.rank
                   and (beat := self.heartbeat(r)) is not None}
        entered[self.rank] = self.collectives
        most = max(entered.values())
        late = sorted(r for r, n in entered.items() if n < most and r != self.rank)
        if not late:
            return f"the ranks lost their connection although every one still runs: {transport}"
        return (f"{ranks_named(late)} fell behind: still running but had not reached "
                f"collective {most} within the {self.timeout_s:g} s collective timeout "
                f"(raise train --timeout if ranks may wait longer for each other): {transport}")


def ranks_named(ranks: list[int]) -> str:
    """``[1]`` -> "rank 1", ``[1, 2, 3]`` -> "ranks 1, 2 and 3"."""
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    return "ranks " + ", ".join(map(str, ranks[:-1])) + f" and {ranks[-1]}"


def hold_sigterm() -> None:
    """Let this process report before it ends: torchrun sends SIGTERM to every rank 0.1 s after
    one failed, and the default action would end this one before it printed its message. The
    message follows within :data:`LISTEN_S` seconds, and then the process ends by itself."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: None)


@contextlib.contextmanager
def lost_peers_named(watch: PeerWatch | None) -> Iterator[None]:
    """``with lost_peers_named(watch):`` turns a failed collective into :class:`PeerLostError`
    naming the rank that stopped answering; other errors pass unchanged."""
    try:
        yield
    except RuntimeError as error:
        if not is_communication_error(error):
            raise
        hold_sigterm()
        message = (watch.explain(error) if watch is not None
                   else f"a rank stopped answering: {transport_message(error)}")
        raise PeerLostError(message) from error
