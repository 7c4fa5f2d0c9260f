"""Run ``tools/dist_*.sh`` from tests: a free port, output to a file,
Python and C++ stack traces if a process dies."""
import os
import socket
import subprocess
import warnings
from typing import List, Optional, Tuple

# What torchrun prints when a worker was killed by a signal rather than
# ending with a Python error.
_SIGNAL_DEATH = ('Signal 6 (SIGABRT)', 'Signal 11 (SIGSEGV)',
                 'terminate called')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _launch(args: List[str], cwd: str, env: dict, log: str,
            timeout: int) -> Tuple[int, str]:
    env = dict(env, PORT=str(free_port()))
    with open(log, 'w') as f:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            timeout=timeout)
    with open(log) as f:
        return proc.returncode, f.read()


def run_launcher(args: List[str],
                 cwd: str,
                 log: str,
                 env: Optional[dict] = None,
                 timeout: int = 600) -> Tuple[int, str]:
    """Run a distributed launcher command; returns ``(returncode, output)``.

    Each attempt gets a port nobody listens on and writes stdout and stderr
    to ``log``. ``PYTHONFAULTHANDLER`` and ``TORCH_SHOW_CPP_STACKTRACES`` are
    on, so a worker that dies of a signal leaves its Python stacks in the
    output. Such a death (not a Python error) is retried once, with a
    warning that carries the first attempt's crash lines: gloo has aborted
    this way on CPU sandboxes with no Python error behind it. A second
    death, or any ordinary failure, is returned as it is.

    Args:
        args: The command, e.g. ``['bash', 'tools/dist_train.sh', ...]``.
        cwd: Working directory.
        log: File for the output (the retry appends ``.retry``).
        env: Extra environment variables.
        timeout: Seconds per attempt.
    """
    full = dict(os.environ, OMP_NUM_THREADS='1')
    full.update(env or {})
    full.update(PYTHONFAULTHANDLER='1', TORCH_SHOW_CPP_STACKTRACES='1')
    rc, out = _launch(args, cwd, full, log, timeout)
    if rc != 0 and any(s in out for s in _SIGNAL_DEATH):
        crash = [
            line for line in out.splitlines()
            if any(s in line for s in _SIGNAL_DEATH + ('Fatal Python', ))
        ]
        warnings.warn('a worker died of a signal; retrying once. '
                      f'First attempt ({log}): ' + ' | '.join(crash[:6]))
        rc, out = _launch(args, cwd, full, log + '.retry', timeout)
    return rc, out
