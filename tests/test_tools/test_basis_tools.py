"""tools/make_imagenet_subset.py and tools/compute_basis.py."""
import os
import os.path as osp
import subprocess
import sys

import torch
from kdep_tiny_cfg import REPO, write_tiny_config


def test_make_imagenet_subset(tmp_path):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from make_imagenet_subset import make_subset
    for c, n in (('n01', 5), ('n02', 3), ('n00', 4)):
        os.makedirs(tmp_path / 'train' / c)
        for i in range(n):
            (tmp_path / 'train' / c / f'{c}_{i}.JPEG').write_bytes(b'x')
    out = make_subset(str(tmp_path), 'train', per_class=4, seed=0)
    lines = open(out).read().split()
    files, labels = lines[0::2], lines[1::2]
    assert len(files) == 4 + 3 + 4
    assert labels.count('0') == 4 and labels.count('2') == 3  # sorted
    assert all(f.startswith(('n00/', 'n01/', 'n02/')) for f in files)
    again = make_subset(str(tmp_path), 'train', 4, 0, str(tmp_path / 'b'))
    assert open(again).read() == open(out).read()  # seeded
    other = make_subset(str(tmp_path), 'train', 4, 1, str(tmp_path / 'c'))
    assert open(other).read() != open(out).read()


def test_compute_basis_offline(tmp_path, image_folder, r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher)
    out = str(tmp_path / 'basis.pth')
    env = dict(os.environ, PYTHONPATH=REPO)
    cmd = [
        sys.executable, 'tools/compute_basis.py', cfg, '--out', out,
        '--num-images', '16', '--work-dir',
        str(tmp_path / 'w')
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    obj = torch.load(out, weights_only=True)
    assert obj['meta']['num_images'] == 16
    assert obj['meta']['d_t'] == 512 and obj['basis'].shape == (512, 512)
    assert obj['meta']['rank'] == 15  # 16 images -> centred rank 15
