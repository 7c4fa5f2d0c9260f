"""A basis file whose bytes changed after it was written (64 zeroed bytes:
the zip still reads) stops ``tools/train.py`` with the file's name, before
any training step (issue 17, item 3)."""
import os.path as osp
import sys

from tests.helpers.datagen import zero_tensor_bytes
from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.tiny import ROOT as REPO
from tests.helpers.tiny import run_tool


def test_train_refuses_a_damaged_basis_file_by_name(tmp_path, image_folder,
                                                    r34_teacher):
    import subprocess
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher, epochs=1)
    first = str(tmp_path / 'first')
    run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir', first])
    basis = osp.join(first, 'kdep_basis.pth')
    zero_tensor_bytes(basis)
    work = str(tmp_path / 'second')
    proc = subprocess.run([
        sys.executable, 'tools/train.py', cfg, '--work-dir', work,
        '--cfg-options', f'model.basis_file={basis}'
    ],
                          cwd=REPO,
                          capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert f'cannot use {basis}' in proc.stderr
    assert 'do not match the checksum' in proc.stderr
    assert not osp.exists(osp.join(work, 'epoch_1.pth'))
