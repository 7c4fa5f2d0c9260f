"""Files whose bytes changed after they were written (64 zeroed bytes: the
zip still reads) and checkpoints that pickle objects stop the tools with
the file's name, before any work: a basis file (issue 17, item 3), a
training checkpoint given to ``--resume``, ``--continue-from``,
``load_from`` or ``tools/extract_student.py`` (issue 28)."""
import os
import os.path as osp
import shutil
import sys

import pytest

from kdep_mm.utils.checkpoint import CHECKPOINT_CHECKSUM_KEY, load_weights
from tests.helpers.datagen import zero_tensor_bytes
from tests.helpers.tiny import run_tool_failing
from tests.test_utils.test_checkpoint import malicious_teacher
from tools.extract_student import main as extract_main


def test_train_refuses_a_damaged_basis_file_by_name(tmp_path, trained_run):
    basis = str(tmp_path / 'kdep_basis.pth')
    shutil.copy(osp.join(trained_run['work'], 'kdep_basis.pth'), basis)
    zero_tensor_bytes(basis)
    work = str(tmp_path / 'second')
    out = run_tool_failing([
        sys.executable, 'tools/train.py', trained_run['cfg'], '--work-dir',
        work, '--cfg-options', f'model.basis_file={basis}'
    ])
    assert f'cannot use {basis}' in out
    assert 'do not match the checksum' in out
    assert not osp.exists(osp.join(work, 'epoch_1.pth'))


@pytest.fixture
def damaged_checkpoint(tmp_path, trained_run):
    """A copy of the run's folder whose epoch_2.pth has 64 zeroed bytes."""
    run = tmp_path / 'run'
    run.mkdir()
    os.link(osp.join(trained_run['work'], 'epoch_1.pth'), run / 'epoch_1.pth')
    bad = str(run / 'epoch_2.pth')
    shutil.copy(osp.join(trained_run['work'], 'epoch_2.pth'), bad)
    zero_tensor_bytes(bad)
    return bad


def test_checkpoints_record_a_checksum_per_entry(trained_run):
    obj = load_weights(osp.join(trained_run['work'], 'epoch_2.pth'))
    digests = obj['meta'][CHECKPOINT_CHECKSUM_KEY]
    assert {'state_dict', 'optimizer'} <= set(digests)
    assert all(len(d) == 64 for d in digests.values())


@pytest.mark.parametrize('how', ['--resume', '--continue-from', 'load_from'])
def test_a_checkpoint_with_zeroed_bytes_is_refused_before_any_work(
        tmp_path, trained_run, damaged_checkpoint, how):
    """The zip still reads, so mmengine would resume silently; the run
    stops before the Runner is built (no work directory, no basis pass),
    naming the file, the damaged entry and the earlier checkpoint."""
    work = str(tmp_path / 'resumed')
    start = (['--cfg-options', f'load_from={damaged_checkpoint}']
             if how == 'load_from' else [how, damaged_checkpoint])
    out = run_tool_failing([
        sys.executable, 'tools/train.py', trained_run['cfg'], '--work-dir',
        work
    ] + start)
    verb = 'load' if how == 'load_from' else 'resume from'
    assert f'cannot {verb} {damaged_checkpoint}: the tensors of its' in out
    assert 'do not match the checksum recorded when it was written' in out
    assert f"--resume {osp.join(osp.dirname(damaged_checkpoint), 'epoch_1')}" \
        in out
    assert not osp.exists(work)


def test_extract_student_refuses_a_checkpoint_with_zeroed_bytes(
        tmp_path, damaged_checkpoint, capsys):
    """Never stamps damaged weights with a fresh checksum."""
    out_dir = tmp_path / 'export'
    assert extract_main([damaged_checkpoint, '--out-dir', str(out_dir)]) == 1
    err = capsys.readouterr().err
    assert f'cannot use {damaged_checkpoint}' in err
    assert 'Use an earlier checkpoint of the same run' in err
    assert 'epoch_1.pth' in err
    assert not out_dir.exists()


def test_a_pickled_checkpoint_is_refused_by_name(tmp_path, trained_run):
    """``--resume`` of a checkpoint that pickles code: the file is named
    and the reason given (unpickling could run code), instead of torch's
    advice to retry with weights_only=False; the code never runs."""
    path, marker = malicious_teacher(tmp_path)
    out = run_tool_failing([
        sys.executable, 'tools/train.py', trained_run['cfg'], '--work-dir',
        str(tmp_path / 'work'), '--resume', path
    ])
    assert f'refusing to load {path}' in out
    assert 'could run any code' in out
    assert 'first: io.open' in out
    assert 'will likely succeed' not in out  # torch's own advice
    assert not osp.exists(marker)
