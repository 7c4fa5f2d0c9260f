"""tools/dataset_converters/make_imagenet_subset.py: N images per class,
seeded, in mmpretrain's annotation format."""
import os

from tools.dataset_converters.make_imagenet_subset import make_subset


def test_make_imagenet_subset(tmp_path):
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
