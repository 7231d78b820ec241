"""A kernelspec's command for the test suite: a kernel forked by tests/kernel_zygote.py.

Runs as ``python -I -S kernel_launcher.py CONNECTION_FILE`` (no site packages: it starts in a
few milliseconds). It sends the zygote its request and standard streams, then stands in for the
kernel: signals sent to it go on to the kernel, and it exits with the kernel's exit code. With no
zygote to ask (``DEEPFM_LITE_KERNEL_ZYGOTE`` unset or gone, or ``DEEPFM_LITE_FORK_KERNELS=0``
in the kernel's environment), or one that declines, it becomes ``python -m ipykernel_launcher
-f CONNECTION_FILE``, the usual kernel.
"""

import json
import os
import signal
import socket
import struct
import sys


def ask_zygote(address: str, connection_file: str):
    """The forked kernel's pid and the stream its exit code will come on.

    Raises ``LookupError`` with the reason when no kernel was forked.
    """
    request = json.dumps({
        "argv": ["-f", os.path.abspath(connection_file)], "cwd": os.getcwd(),
        "env": dict(os.environ), "executable": sys.executable,
    }).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
        socket.send_fds(sock, [struct.pack("!I", len(request))], [0, 1, 2])
        sock.sendall(request)
        replies = sock.makefile("rb")
        reply = json.loads(replies.readline() or '{"pid": null, "reason": "it stopped"}')
    except (OSError, ValueError) as error:
        sock.close()
        raise LookupError(repr(error)) from None
    if reply.get("pid") is None:
        sock.close()
        raise LookupError(reply.get("reason"))
    return reply["pid"], replies


def main() -> None:
    connection_file = sys.argv[1]
    address = os.environ.get("DEEPFM_LITE_KERNEL_ZYGOTE")
    usual = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
    if not address or os.environ.get("DEEPFM_LITE_FORK_KERNELS") == "0":
        os.execv(sys.executable, usual)  # no zygote, or this kernel asks for the usual way
    try:
        pid, replies = ask_zygote(address, connection_file)
    except LookupError as reason:
        print(f"kernel_launcher: a kernel started the usual way, not forked: {reason}",
              file=sys.stderr)
        os.execv(sys.executable, usual)

    def pass_on(signum, _frame) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                   signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, pass_on)
    line = replies.readline()  # the zygote's word when the kernel has exited
    sys.exit(json.loads(line)["returncode"] if line else 1)


if __name__ == "__main__":
    main()
