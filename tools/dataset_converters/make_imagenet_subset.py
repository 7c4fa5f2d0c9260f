"""Sample N images per class of an ImageNet-style folder into an annotation
file (no files are copied). 128 per class is the paper's "10%".

    python tools/make_imagenet_subset.py data/imagenet --split train \
        --per-class 128 --seed 0
    # -> data/imagenet/meta/train_128perclass_seed0.txt

Lines are ``<class folder>/<file> <class index>`` (mmpretrain's annotation
format; classes in sorted folder order, as ``ImageNet`` / ``CustomDataset``
number them), so the same file serves KDEP (labels unused) and supervised
baselines.
"""
import argparse
import os
import os.path as osp
import random

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def make_subset(root: str,
                split: str,
                per_class: int,
                seed: int,
                out: str = None) -> str:
    """Write the annotation file and return its path."""
    split_dir = osp.join(root, split)
    if not osp.isdir(split_dir):
        raise FileNotFoundError(f'no folder {split_dir}')
    classes = sorted(
        d for d in os.listdir(split_dir) if osp.isdir(osp.join(split_dir, d)))
    if not classes:
        raise ValueError(f'{split_dir} has no class folders')
    rng = random.Random(seed)
    lines, short = [], []
    for idx, cls in enumerate(classes):
        files = sorted(
            f for f in os.listdir(osp.join(split_dir, cls))
            if f.lower().endswith(IMG_EXTENSIONS))
        if len(files) < per_class:
            short.append(f'{cls} ({len(files)})')
        chosen = sorted(rng.sample(files, min(per_class, len(files))))
        lines += [f'{cls}/{f} {idx}' for f in chosen]
    if out is None:
        out = osp.join(root, 'meta',
                       f'{split}_{per_class}perclass_seed{seed}.txt')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'{len(lines)} images from {len(classes)} classes -> {out}')
    if short:
        print(f'warning: {len(short)} classes have fewer than {per_class} '
              f'images (all taken): {", ".join(short[:10])}')
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='ImageNet root (has train/ and val/)')
    parser.add_argument('--split', default='train')
    parser.add_argument('--per-class', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='output file (default: root/meta/...)')
    args = parser.parse_args(argv)
    make_subset(args.root, args.split, args.per_class, args.seed, args.out)


if __name__ == '__main__':
    main()
