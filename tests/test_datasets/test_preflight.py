"""The optional pre-flight decodes every image before the basis pass and
lists all unreadable files at once (issue 17, item 4)."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest

from kdep_mm.datasets import (KDEPImageDataset, UnreadableImageError,
                              preflight_images)
from tests.helpers.datagen import make_image_folder
from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.tiny import ROOT as REPO


def _break(root):
    files = sorted(glob.glob(osp.join(root, '**', '*.jpg'), recursive=True))
    open(files[3], 'wb').close()  # empty
    with open(files[7], 'r+b') as f:  # truncated
        f.truncate(osp.getsize(files[7]) // 2)
    return files[3], files[7]


@pytest.mark.parametrize('workers', [0, 2])
def test_preflight_lists_every_bad_image(tmp_path, workers):
    root = make_image_folder(str(tmp_path / 'img'), 12, nested=False)
    ds = KDEPImageDataset(
        data_root=root, data_prefix='', with_label=False, pipeline=[])
    assert preflight_images(ds, workers=workers, chunk=4)['num_images'] == 12
    empty, cut = _break(root)
    with pytest.raises(UnreadableImageError) as err:
        preflight_images(ds, workers=workers, chunk=4)
    msg = str(err.value)
    assert 'pre-flight: 2 of 12 images cannot be used' in msg
    assert f'{empty} (0 bytes): the file is empty' in msg
    assert cut in msg and 'truncated JPEG' in msg


def test_train_preflight_stops_before_the_teacher_pass(tmp_path, r34_teacher):
    root = make_image_folder(str(tmp_path / 'img'), 16)
    empty, cut = _break(root)
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), root, r34_teacher, epochs=1)
    work = str(tmp_path / 'work')
    proc = subprocess.run([
        sys.executable, 'tools/train.py', cfg, '--work-dir', work,
        '--preflight'
    ],
                          cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO),
                          capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert 'pre-flight: 2 of 16 images cannot be used' in proc.stderr
    assert empty in proc.stderr and cut in proc.stderr
    # nothing of the basis pass ran
    assert 'KDEP basis: teacher features' not in proc.stdout + proc.stderr
    assert not osp.exists(osp.join(work, 'kdep_basis.pth'))
