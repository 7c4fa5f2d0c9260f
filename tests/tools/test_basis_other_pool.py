"""``model.basis_file=`` computed from other images (issue 28): refused by
``tools/train.py`` before any step, naming both pool fingerprints, unless
``--basis-other-pool REASON`` says why (the reason is logged)."""
import os.path as osp
import sys

from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.tiny import run_tool, run_tool_failing


def test_a_basis_of_another_pool_needs_a_reason(tmp_path, trained_run,
                                                tiny_setup, r34_teacher):
    basis = osp.join(trained_run['work'], 'kdep_basis.pth')
    cfg = write_tiny_config(
        str(tmp_path / 'other_pool.py'),
        tiny_setup['images'],
        r34_teacher,
        epochs=1)
    args = [
        sys.executable, 'tools/train.py', cfg, '--cfg-options',
        f'model.basis_file={basis}'
    ]
    refused = str(tmp_path / 'refused')
    out = run_tool_failing(args + ['--work-dir', refused])
    assert f'basis file {basis} was computed from other images' in out
    assert '24 images in the file' in out
    assert ", 16 images;" in out  # this run's pool
    assert "--basis-other-pool 'REASON'" in out
    assert not osp.exists(osp.join(refused, 'epoch_1.pth'))

    used = str(tmp_path / 'used')
    out = run_tool(
        args +
        ['--work-dir', used, '--basis-other-pool', 'a basis of a larger pool'])
    assert 'used as asked: a basis of a larger pool' in out
    assert osp.isfile(osp.join(used, 'epoch_1.pth'))
