"""The one pool fingerprint (basis files and target caches): which images,
in which order, and the basis pass's image limit."""
from kdep_mm.datasets.pool import dataset_paths, pool_fingerprint


class _Pool:

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(img_path=self.paths[i])


def test_order_and_limit_change_the_fingerprint():
    a = pool_fingerprint(['x.png', 'y.png'])
    assert a == pool_fingerprint(['x.png', 'y.png'])
    assert a != pool_fingerprint(['y.png', 'x.png'])  # rows follow the order
    assert a != pool_fingerprint(['x.png', 'y.png'], num_images=1)
    assert len(a) == 16


def test_dataset_paths_in_index_order():
    assert dataset_paths(_Pool(['b', 'a'])) == ['b', 'a']
    assert dataset_paths(range(2)) == ['0', '1']  # no paths: indices
