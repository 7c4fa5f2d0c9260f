"""KDEPImageDataset: an empty, image-less or missing folder, or a flat
folder read with labels, ends in a clear error that names it."""
import pytest
from mmpretrain.registry import DATASETS

from tests.helpers.datagen import make_image_folder


def build_dataset(root, **kwargs):
    return DATASETS.build(
        dict(type='KDEPImageDataset', data_root=root, pipeline=[], **kwargs))


def test_empty_dataset_folder(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='contains no images') as err:
        build_dataset(str(empty), with_label=False)
    assert str(empty) in str(err.value) and 'it is empty' in str(err.value)


def test_image_less_dataset_folder(tmp_path):
    folder = tmp_path / 'notes'
    (folder / 'sub').mkdir(parents=True)
    (folder / 'sub' / 'readme.txt').write_text('no images here')
    with pytest.raises(ValueError, match='contains no images') as err:
        build_dataset(str(folder), with_label=False)
    assert str(folder) in str(err.value) and 'readme.txt' in str(err.value)


def test_flat_folder_with_labels_explains_with_label(tmp_path):
    folder = make_image_folder(str(tmp_path / 'flat'), 3, nested=False)
    with pytest.raises(ValueError, match='with_label=False') as err:
        build_dataset(folder)
    assert folder in str(err.value)


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        build_dataset(str(tmp_path / 'nowhere'), with_label=False)
