"""tests.helpers.launch.run_launcher (how the tests start tools/dist_*.sh):
free port, output file, one retry only for a worker killed by a signal."""
import socket

import pytest

from tests.helpers.launch import free_port, run_launcher

# Prints what torchrun prints for an aborted worker, and fails, until the
# marker file exists; the second call succeeds.
FLAKY = ('if [ -e "$1" ]; then echo "ok port=$PORT"; exit 0; fi; '
         'touch "$1"; echo "terminate called without an active exception"; '
         'exit 1')


def test_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as s:
        s.bind(('127.0.0.1', port))


def test_signal_death_is_retried_once_with_a_warning(tmp_path):
    marker = str(tmp_path / 'marker')
    with pytest.warns(UserWarning, match='died of a signal'):
        rc, out = run_launcher(['bash', '-c', FLAKY, 'x', marker],
                               cwd=str(tmp_path),
                               log=str(tmp_path / 'log'))
    assert rc == 0 and out.startswith('ok port=')
    assert 'terminate called' in (tmp_path / 'log').read_text()


def test_second_death_and_python_errors_are_not_hidden(tmp_path):
    with pytest.warns(UserWarning, match='died of a signal'):
        rc, _ = run_launcher(['bash', '-c', 'echo "terminate called"; exit 1'],
                             cwd=str(tmp_path),
                             log=str(tmp_path / 'log'))
    assert rc == 1
    rc, out = run_launcher(
        ['bash', '-c', 'echo "Traceback: ValueError"; exit 1'],
        cwd=str(tmp_path),
        log=str(tmp_path / 'log2'))
    assert rc == 1 and 'ValueError' in out
    assert not (tmp_path / 'log2.retry').exists()
