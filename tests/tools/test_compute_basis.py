"""tools/compute_basis.py: the basis file of a config offline, equal to
the one KDEPBasisHook writes in a tools/train.py run."""
import os.path as osp
import sys

import torch

from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.tiny import run_tool


def test_compute_basis_offline(tmp_path, image_folder, r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher)
    out = str(tmp_path / 'basis.pth')
    run_tool([
        sys.executable, 'tools/compute_basis.py', cfg, '--out', out,
        '--num-images', '16', '--work-dir',
        str(tmp_path / 'w')
    ])
    obj = torch.load(out, weights_only=True)
    assert obj['meta']['num_images'] == 16
    assert obj['meta']['d_t'] == 512 and obj['basis'].shape == (512, 512)
    assert obj['meta']['rank'] == 15  # 16 images -> centred rank 15


def test_equals_the_basis_of_a_training_run(tmp_path, image_folder,
                                            r34_teacher):
    """The same config and seed, the same number of images: the file of
    tools/compute_basis.py and the one KDEPBasisHook writes at the start of
    tools/train.py hold the same basis (the same augmented images)."""
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher, epochs=1)
    offline = str(tmp_path / 'offline.pth')
    run_tool([
        sys.executable, 'tools/compute_basis.py', cfg, '--out', offline,
        '--num-images', '24', '--work-dir',
        str(tmp_path / 'w')
    ])
    work = str(tmp_path / 'train')
    out = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir', work])
    assert 'KDEP basis: teacher features of 24 images' in out
    a = torch.load(offline, weights_only=True)
    b = torch.load(osp.join(work, 'kdep_basis.pth'), weights_only=True)
    assert a['meta']['num_images'] == b['meta']['num_images'] == 24
    for key in ('teacher_fingerprint', 'teacher_tap', 'd_t', 'rank'):
        assert a['meta'][key] == b['meta'][key], key
    # The same images through the same float64 sums: bit for bit.
    for key in ('mean', 'basis', 'spectrum'):
        assert torch.equal(a[key],
                           b[key]), (key, float((a[key] - b[key]).abs().max()))
    # ... and the augmentation is random: another seed, another basis.
    other = str(tmp_path / 'seed1.pth')
    run_tool([
        sys.executable, 'tools/compute_basis.py', cfg, '--out', other,
        '--num-images', '24', '--work-dir',
        str(tmp_path / 'w1'), '--cfg-options', 'randomness.seed=1'
    ])
    assert not torch.equal(
        torch.load(other, weights_only=True)['mean'], a['mean'])
