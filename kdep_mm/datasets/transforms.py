"""``LoadImageFromFileSafe``: image loading that names the broken file.

mmcv's ``LoadImageFromFile`` gives an ``AssertionError`` for a file the
decoder rejects and, worse, OpenCV decodes a *truncated* JPEG without an
error (the missing rows are grey), so a half-copied data set trains
silently on damaged images. This transform checks the bytes before
decoding (empty file; JPEG without its end-of-image marker; PNG without
its ``IEND`` chunk) and turns every failure into an
:class:`UnreadableImageError` that names the file. With
``on_error='skip'`` (opt-in) the file is skipped instead: the transform
returns None, mmengine's dataset draws another image (training pipelines
only), and each skip is logged with the file and the number skipped so far
(per data-loading process).
"""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS

ON_ERROR = ('raise', 'skip')


class UnreadableImageError(OSError):
    """An image file is missing, empty, truncated or cannot be decoded."""


def check_image_bytes(data: bytes) -> Optional[str]:
    """What is wrong with an encoded image, or None if nothing is seen.

    Only cheap structural checks: the decoder catches the rest.
    """
    if not data:
        return 'the file is empty'
    if data[:2] == b'\xff\xd8':  # JPEG
        # The end-of-image marker (0xFF 0xD9 never occurs inside the
        # entropy-coded data), allowing for some trailing bytes.
        if b'\xff\xd9' not in data[-1024:]:
            return 'truncated JPEG (no end-of-image marker)'
    elif data[:8] == b'\x89PNG\r\n\x1a\n':
        if b'IEND' not in data[-64:]:
            return 'truncated PNG (no IEND chunk)'
    return None


def decode_checked(data: bytes,
                   filename: str,
                   flag: str = 'color',
                   backend: str = 'cv2',
                   check_truncated: bool = True) -> np.ndarray:
    """Decode an image's bytes, or raise :class:`UnreadableImageError`
    naming ``filename``, its size and what is wrong."""
    problem = check_image_bytes(data) if check_truncated else (
        None if data else 'the file is empty')
    img = None
    if problem is None:
        try:
            img = mmcv.imfrombytes(data, flag=flag, backend=backend)
        except Exception as e:
            problem = f'{type(e).__name__}: {e}'
        if img is None and problem is None:
            problem = 'the decoder cannot read it (corrupt or not an image)'
    if problem is not None:
        raise UnreadableImageError(
            f'unreadable image {filename} ({len(data)} bytes): {problem}')
    return img


@TRANSFORMS.register_module()
class LoadImageFromFileSafe(LoadImageFromFile):
    """``LoadImageFromFile`` with clear errors and an opt-in skip policy.

    A drop-in replacement: the arguments of mmcv's ``LoadImageFromFile``
    plus the two below.

    Args:
        on_error (str): 'raise' (default): an unreadable image stops the run
            with :class:`UnreadableImageError` naming the file. 'skip': log
            it, count it and return None (mmengine's dataset then uses
            another image; only valid in training pipelines).
        check_truncated (bool): Refuse JPEG / PNG files whose end marker
            is missing. Defaults to True.
    """

    #: Files skipped by this process (class-wide, for the report).
    num_skipped = 0

    def __init__(self,
                 on_error: str = 'raise',
                 check_truncated: bool = True,
                 **kwargs) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(
                f'on_error must be one of {ON_ERROR}, got {on_error!r}')
        super().__init__(**kwargs)
        self.on_error = on_error
        self.check_truncated = check_truncated

    def _read(self, filename: str) -> np.ndarray:
        try:
            if self.file_client_args is not None:
                client = fileio.FileClient.infer_client(
                    self.file_client_args, filename)
                data = client.get(filename)
            else:
                data = fileio.get(filename, backend_args=self.backend_args)
        except Exception as e:
            raise UnreadableImageError(
                f'cannot read image {filename}: {type(e).__name__}: {e}'
            ) from None
        return decode_checked(data, filename, self.color_type,
                              self.imdecode_backend, self.check_truncated)

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            img = self._read(filename)
        except UnreadableImageError as e:
            if self.on_error == 'raise' and not self.ignore_empty:
                raise UnreadableImageError(
                    f"{e}. Remove or replace the file, or set on_error='skip'"
                    ' in LoadImageFromFileSafe to skip unreadable images. '
                    'To list every unreadable image of the pool at once, '
                    'before any teacher pass: python tools/train.py CONFIG '
                    '--preflight') from None
            LoadImageFromFileSafe.num_skipped += 1
            print_log(
                f'skipped {e} [{LoadImageFromFileSafe.num_skipped} '
                'unreadable image(s) skipped so far in this process]',
                logger='current',
                level=30)
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, '
                f'check_truncated={self.check_truncated}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r})')
