"""Write the demo's data sets, in the libraries' own formats, from the
verified registry files of :mod:`demo.assets`: the part tables and
:func:`prepare`, which runs the builders (one module per data set).

Each part is written into its own folder under the data root and finished
by a marker ``.done/<part>.json`` (parameters, manifest entries, counts,
seconds); a part whose marker matches is skipped, anything else is
rebuilt from scratch, so an interrupted run just runs again.

Layout (``<root>`` defaults to ``<repo>/data/demo``)::

    teachers/mobilenet-v2_in1k.pth   mmpretrain ImageClassifier layout
    teachers/teacher_check.json      top-5 of the teacher on real photos
    teacher_lite2/                   EfficientNet-Lite2 (timm) and its check
    pool/train/*.png, pool/val/*.png unlabelled distillation images
    pool/meta/{train,val}_labeled.txt, classes.txt  (labels, for baselines)
    cls/mnist5k/, cls/elpv/          images/ + meta/{train,val,test}.txt
    det/trees/                       images/ + annotations/{train,val}.json
    seg/glyphs/                      img_dir/{train,val}/, ann_dir/...
    index.json                       every part's summary
"""
import json
import os
import os.path as osp
import shutil
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

from kdep_mm.utils.fileio import atomic_write
from ..assets import AssetError, PackageStore
from . import elpv, glyphs, mnist5k, pool, teacher, teacher_lite2, trees

#: The builder module of each part, in build order.
PART_MODULES = dict(
    teacher=teacher,
    teacher_lite2=teacher_lite2,
    pool=pool,
    cls_mnist5k=mnist5k,
    cls_elpv=elpv,
    det_trees=trees,
    seg_glyphs=glyphs)
#: Default parameters of each part (the marker records them).
DEFAULTS: Dict[str, dict] = {
    k: dict(m.DEFAULTS)
    for k, m in PART_MODULES.items()
}
PARTS = tuple(DEFAULTS)
PART_FUNCS: Dict[str, Callable] = {k: m.build for k, m in PART_MODULES.items()}
PART_DIRS = {k: m.FOLDER for k, m in PART_MODULES.items()}
PART_PACKAGES = {k: m.PACKAGES for k, m in PART_MODULES.items()}
#: Bump when a builder's output changes for the same parameters: finished
#: parts with another version are rebuilt.
LAYOUT_VERSION = 3


def _dir_size(path: str) -> Tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            files += 1
            size += osp.getsize(osp.join(dirpath, n))
    return files, size


def _build_part(store: PackageStore, data_root: str, part: str, p: dict,
                key: dict, marker: str) -> dict:
    """Build one part from scratch and write its marker."""
    out = osp.join(data_root, PART_DIRS[part])
    start = time.time()
    if osp.isdir(out):
        shutil.rmtree(out)
    if osp.isfile(marker):
        os.remove(marker)
    os.makedirs(out)
    try:
        summary = PART_FUNCS[part](store, out, p)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # never leave half a part
        raise
    files, size = _dir_size(out)
    done = dict(
        key=key,
        summary=summary,
        path=PART_DIRS[part],
        files=files,
        bytes=size,
        seconds=round(time.time() - start, 1))
    atomic_write(marker, json.dumps(done, indent=1))
    print(f'    {part}: {files} files, {size / 1e6:.1f} MB, '
          f'{done["seconds"]} s')
    return done


def prepare(data_root: str,
            parts: Sequence[str] = PARTS,
            store: Optional[PackageStore] = None,
            force: bool = False,
            params: Optional[Dict[str, dict]] = None) -> dict:
    """Write every requested part that is not already finished.

    Args:
        data_root (str): Output folder (outside git).
        parts (Sequence[str]): Which parts, from :data:`PARTS`.
        store (PackageStore, optional): Where packages come from.
        force (bool): Rebuild even finished parts.
        params (dict, optional): Per-part overrides of :data:`DEFAULTS`.

    Returns:
        dict: ``part -> marker`` (summary, seconds, files, bytes).

    Raises:
        AssetError: An unknown part, or a package or file that cannot be
            fetched or verified.
    """
    store = store or PackageStore()
    unknown = [p for p in parts if p not in PART_FUNCS]
    if unknown:
        raise AssetError(f'unknown parts {unknown}; known: {list(PARTS)}')
    os.makedirs(osp.join(data_root, '.done'), exist_ok=True)
    results = {}
    for k, part in enumerate(parts, 1):
        p = dict(DEFAULTS[part], **(params or {}).get(part, {}))
        p = json.loads(json.dumps(p))  # tuples -> lists, as stored
        key = dict(
            version=LAYOUT_VERSION,
            params=p,
            packages={n: store.entry(n)
                      for n in PART_PACKAGES[part]})
        marker = osp.join(data_root, '.done', f'{part}.json')
        out = osp.join(data_root, PART_DIRS[part])
        if not force and osp.isfile(marker):
            with open(marker) as f:
                done = json.load(f)
            if done.get('key') == key and osp.isdir(out):
                print(f'[{k}/{len(parts)}] {part}: done already '
                      f'({done["files"]} files, {done["bytes"] / 1e6:.1f} MB)'
                      f', skipped')
                results[part] = done
                continue
        print(f'[{k}/{len(parts)}] {part} -> {out}')
        results[part] = _build_part(store, data_root, part, p, key, marker)
    index = osp.join(data_root, 'index.json')
    old = {}
    if osp.isfile(index):
        with open(index) as f:
            old = json.load(f)
    old.update({
        k:
        dict(
            path=v['path'],
            summary=v['summary'],
            files=v['files'],
            bytes=v['bytes'])
        for k, v in results.items()
    })
    atomic_write(index, json.dumps(old, indent=1))
    return results
