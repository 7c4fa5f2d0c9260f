"""Convert weights from other ecosystems into mmpretrain's key layout.

A conversion is a map from *module paths* of the source model to module
paths of the target model; every parameter / buffer name below a module is
kept. The conversion is strict in both directions:

* every source tensor is used exactly once (a tensor that no rule maps, or
  a rule that would write a target key twice, is an error);
* every target key the rules promise is filled (a truncated file is an
  error), and, when the target model's own state dict is given, its keys
  and shapes match exactly.

Errors list the leftovers, so a wrong file (a ResNet instead of a
MobileNetV2, a truncated download) is refused with a message that says
what did not fit, never half converted.
"""
from collections import OrderedDict
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

import torch

# Parameter / buffer names of each kind of module in the maps below.
CONV_KEYS = ('weight', )
BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var',
           'num_batches_tracked')
LINEAR_KEYS = ('weight', 'bias')

#: MobileNetV2's inverted-residual stages (expand ratio, channels, blocks,
#: stride), shared by torchvision and mmpretrain.
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
                         (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320,
                                                                        1, 1))


class ConversionError(ValueError):
    """A source state dict does not fit the conversion rules."""


def _fmt(keys: Iterable, limit: int = 12) -> str:
    keys = list(keys)
    more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(map(str, keys[:limit])) + more


def mobilenet_v2_module_map(
        settings: Sequence[Tuple[int, int, int, int]] = MOBILENET_V2_SETTINGS,
        with_head: bool = True
) -> 'OrderedDict[str, Tuple[str, Tuple[str, ...]]]':
    """Module map from torchvision's MobileNetV2 to mmpretrain's.

    torchvision: ``features.0`` (stem conv-bn-relu6), ``features.1..17``
    (inverted residuals, ``conv.*``), ``features.18`` (1x1 conv-bn-relu6 to
    1280 channels), ``classifier.1`` (linear). mmpretrain: ``backbone.conv1``,
    ``backbone.layer{1..7}.{j}.conv.{k}.{conv,bn}``, ``backbone.conv2``,
    ``head.fc`` (``ImageClassifier`` with ``GlobalAveragePooling`` and
    ``LinearClsHead``).

    Args:
        settings (Sequence[tuple]): ``(expand_ratio, channels, num_blocks,
            stride)`` per stage. Defaults to MobileNetV2's.
        with_head (bool): Map the classifier to ``head.fc`` too.

    Returns:
        OrderedDict: ``source module -> (target module, tensor names)``.
    """
    rules = OrderedDict()
    rules['features.0.0'] = ('backbone.conv1.conv', CONV_KEYS)
    rules['features.0.1'] = ('backbone.conv1.bn', BN_KEYS)
    idx = 1
    for stage, (expand, _, blocks, _) in enumerate(settings, 1):
        for j in range(blocks):
            src = f'features.{idx}.conv'
            dst = f'backbone.layer{stage}.{j}.conv'
            if expand == 1:  # depthwise conv-bn-relu6, then 1x1 conv, bn
                pairs = [('0.0', '0.conv', CONV_KEYS),
                         ('0.1', '0.bn', BN_KEYS), ('1', '1.conv', CONV_KEYS),
                         ('2', '1.bn', BN_KEYS)]
            else:  # expand conv-bn-relu6, depthwise conv-bn-relu6, conv, bn
                pairs = [
                    ('0.0', '0.conv', CONV_KEYS), ('0.1', '0.bn', BN_KEYS),
                    ('1.0', '1.conv', CONV_KEYS), ('1.1', '1.bn', BN_KEYS),
                    ('2', '2.conv', CONV_KEYS), ('3', '2.bn', BN_KEYS)
                ]
            for s, d, names in pairs:
                rules[f'{src}.{s}'] = (f'{dst}.{d}', names)
            idx += 1
    rules[f'features.{idx}.0'] = ('backbone.conv2.conv', CONV_KEYS)
    rules[f'features.{idx}.1'] = ('backbone.conv2.bn', BN_KEYS)
    if with_head:
        rules['classifier.1'] = ('head.fc', LINEAR_KEYS)
    return rules


def convert_state_dict(
        state: Mapping[str, torch.Tensor],
        rules: Mapping[str, Tuple[str, Tuple[str, ...]]],
        target: Optional[Mapping[str, torch.Tensor]] = None,
        ignore_source: Iterable[str] = (),
        source: str = 'source state dict') -> 'OrderedDict[str, torch.Tensor]':
    """Rename ``state`` by module ``rules``, strictly.

    Args:
        state (Mapping[str, Tensor]): The source state dict.
        rules (Mapping): ``source module -> (target module, tensor names)``,
            e.g. from :func:`mobilenet_v2_module_map`.
        target (Mapping[str, Tensor], optional): The target model's own
            state dict; when given, the converted keys and shapes must
            equal it exactly.
        ignore_source (Iterable[str]): Source module prefixes that are
            deliberately dropped (e.g. ``'classifier.'`` for a backbone-only
            conversion). Everything else must be used.
        source (str): Named in error messages (e.g. the file name).

    Returns:
        OrderedDict: The converted state dict, in the rules' order.

    Raises:
        ConversionError: Listing unused source tensors, target keys written
            twice, target keys not filled, and (with ``target``) unexpected
            keys and shape mismatches. Nothing is returned in that case.
    """
    ignore_source = tuple(ignore_source)
    wanted = OrderedDict()  # target key -> source key
    for src_mod, (dst_mod, names) in rules.items():
        for name in names:
            wanted.setdefault(f'{dst_mod}.{name}',
                              []).append(f'{src_mod}.{name}')
    # Two source tensors written to one target key: a broken rule set.
    twice = [f'{k} <- {_fmt(v)}' for k, v in wanted.items() if len(v) > 1]
    wanted = OrderedDict((k, v[0]) for k, v in wanted.items())
    by_source = {v: k for k, v in wanted.items()}

    out = OrderedDict()
    unused = []
    for key, value in state.items():
        if key in by_source:  # each source key maps to one target key
            out[by_source[key]] = value
        elif not (ignore_source and key.startswith(ignore_source)):
            unused.append(key)
    not_filled = [k for k, s in wanted.items() if s not in state]

    problems = []
    if unused:
        problems.append(f'  source tensors no rule uses ({len(unused)}): '
                        f'{_fmt(unused)}')
    if twice:
        problems.append(f'  keys written more than once ({len(twice)}): '
                        f'{_fmt(twice)}')
    if not_filled:
        problems.append(
            f'  target keys not filled, their source tensors are missing '
            f'({len(not_filled)}): ' + _fmt(f'{k} <- {wanted[k]}'
                                            for k in not_filled))
    if target is not None:
        extra = [k for k in target if k not in wanted]
        beyond = [k for k in wanted if k not in target]
        shapes = [(k, tuple(target[k].shape), tuple(v.shape))
                  for k, v in out.items()
                  if k in target and tuple(target[k].shape) != tuple(v.shape)]
        if extra:
            problems.append(f'  target keys no rule fills ({len(extra)}): '
                            f'{_fmt(extra)}')
        if beyond:
            problems.append(f'  converted keys the target does not have '
                            f'({len(beyond)}): {_fmt(beyond)}')
        if shapes:
            problems.append('  shape mismatches (key, target, source): '
                            f'{_fmt(shapes)}')
    if problems:
        raise ConversionError(
            f'{source} cannot be converted ({len(state)} tensors in, '
            f'{len(wanted)} expected); nothing was written.\n' +
            '\n'.join(problems))
    return out


def convert_torchvision_mobilenet_v2(
        state: Mapping[str, torch.Tensor],
        target: Optional[Mapping[str, torch.Tensor]] = None,
        with_head: bool = True,
        source: str = 'source state dict') -> 'OrderedDict[str, torch.Tensor]':
    """torchvision MobileNetV2 (width 1.0) -> mmpretrain ``ImageClassifier``.

    The target is ``ImageClassifier(backbone=MobileNetV2(widen_factor=1.0),
    neck=GlobalAveragePooling, head=LinearClsHead(1000, 1280))``, as in
    mmpretrain's ``mobilenet-v2_8xb32_in1k.py``.

    Args:
        state (Mapping[str, Tensor]): torchvision's state dict (keys
            ``features.*`` and ``classifier.1.*``; a ``module.`` prefix
            from DataParallel is stripped).
        target (Mapping[str, Tensor], optional): The target model's state
            dict for an exact key / shape check.
        with_head (bool): Convert the classifier too. If False, the
            source's ``classifier.*`` tensors are dropped on purpose and only
            ``backbone.*`` keys are produced.
        source (str): Named in error messages.

    Returns:
        OrderedDict: mmpretrain keys -> tensors.
    """
    state = OrderedDict(
        (k[7:] if k.startswith('module.') else k, v) for k, v in state.items())
    return convert_state_dict(
        state,
        mobilenet_v2_module_map(with_head=with_head),
        target=target,
        ignore_source=() if with_head else ('classifier.', ),
        source=source)


def state_dict_of(obj: Mapping) -> Dict[str, torch.Tensor]:
    """The tensors of a loaded file: ``state_dict`` / ``model`` or itself."""
    if not isinstance(obj, Mapping):
        raise ConversionError(
            f'expected a state dict (a mapping of names to tensors), got '
            f'{type(obj).__name__}')
    for field in ('state_dict', 'model'):
        if isinstance(obj.get(field), Mapping):
            obj = obj[field]
            break
    not_tensors = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if not_tensors:
        raise ConversionError(
            f'expected a state dict of tensors; these entries are not '
            f'tensors: {_fmt(not_tensors)}')
    return OrderedDict(obj)


#: mmpretrain's ImageNet MobileNetV2 classifier (``mobilenet-v2_8xb32_in1k``),
#: the target layout of :func:`convert_torchvision_mobilenet_v2`.
MOBILENET_V2_CLASSIFIER = dict(
    type='ImageClassifier',
    backbone=dict(type='MobileNetV2', widen_factor=1.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))


def build_mobilenet_v2_classifier() -> torch.nn.Module:
    """Build :data:`MOBILENET_V2_CLASSIFIER` with mmpretrain (eval mode)."""
    import copy

    import mmpretrain.models  # noqa: F401  (registers the modules)
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    # Whatever scope a caller set (mmdet, mmseg), build in mmpretrain's.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(MOBILENET_V2_CLASSIFIER))
    return model.eval()


def sha256sum(filename: str, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file."""
    import hashlib
    h = hashlib.sha256()
    with open(filename, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def torchvision_mobilenet_v2_logits(state: Mapping[str, torch.Tensor],
                                    x: torch.Tensor) -> Optional[torch.Tensor]:
    """Logits of torchvision's own MobileNetV2 with ``state`` on ``x``.

    The reference for the output-equality check. Returns None when
    torchvision cannot be imported (it is optional for the conversion).
    """
    try:
        from torchvision.models import mobilenet_v2
    except Exception:  # noqa: BLE001  (any import failure: no reference)
        return None
    ref = mobilenet_v2(num_classes=state['classifier.1.weight'].shape[0])
    ref.load_state_dict(state, strict=True)
    with torch.no_grad():
        return ref.eval()(x)


def convert_mobilenet_v2_file(src: str,
                              dst: str,
                              with_head: bool = True,
                              check_reference: bool = True,
                              logger=print) -> dict:
    """Convert a torchvision MobileNetV2 file into an mmpretrain file.

    The source is read weights-only; the result is loaded strictly into a
    freshly built mmpretrain model (every key and shape must match), and,
    if ``check_reference`` and torchvision is importable, that model's
    logits on a random input must equal torchvision's own model's logits
    with the original weights.

    Args:
        src (str): The torchvision-layout file.
        dst (str): Where to write ``{'state_dict': ..., 'meta': ...}``
            (plain tensors and strings: loadable with ``weights_only=True``).
        with_head (bool): Keep the 1000-class classifier (``head.fc``).
        check_reference (bool): Run the output-equality check.
        logger (callable): Receives progress lines.

    Returns:
        dict: The ``meta`` written into the file.
    """
    import os
    import os.path as osp

    from kdep_mm.utils.checkpoint import load_state_dict_strict, load_weights
    from kdep_mm.version import __version__
    state = state_dict_of(load_weights(src))
    model = build_mobilenet_v2_classifier()
    target = model.state_dict()
    if not with_head:
        target = OrderedDict(
            (k, v) for k, v in target.items() if k.startswith('backbone.'))
    out = convert_torchvision_mobilenet_v2(
        state, target=target, with_head=with_head, source=src)
    if with_head:
        load_state_dict_strict(model, out, source=src)
    else:
        load_state_dict_strict(
            model.backbone, strip_prefix(out, 'backbone.'), source=src)
    max_diff = None
    if check_reference and with_head:
        x = torch.randn(
            2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        ref = torchvision_mobilenet_v2_logits(state, x)
        if ref is None:
            logger('torchvision is not importable: output check skipped')
        else:
            with torch.no_grad():
                got = model(x, mode='tensor')
            max_diff = float((got - ref).abs().max())
            if not torch.allclose(got, ref, rtol=1e-4, atol=1e-5):
                raise ConversionError(
                    f'{src}: converted model output differs from '
                    f"torchvision's (max abs diff {max_diff:.3g})")
            logger(f'output check: max |mmpretrain - torchvision| = '
                   f'{max_diff:.3g} on a random 2x3x224x224 input')
    meta = dict(
        source=osp.basename(src),
        source_sha256=sha256sum(src),
        source_layout='torchvision.models.mobilenet_v2',
        layout='mmpretrain ImageClassifier(MobileNetV2(widen_factor=1.0), '
        'GlobalAveragePooling, LinearClsHead(1000, 1280))'
        if with_head else 'mmpretrain MobileNetV2(widen_factor=1.0) as '
        "'backbone.*'",
        num_tensors=len(out),
        converted_by=f'kdep_mm {__version__} '
        'tools/convert_torchvision_mobilenetv2.py')
    if max_diff is not None:
        meta['max_abs_logit_diff_vs_source'] = max_diff
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = dst + '.tmp'
    torch.save(dict(state_dict=out, meta=meta), tmp)
    os.replace(tmp, dst)
    logger(f'wrote {len(out)} tensors to {dst}')
    return meta


def strip_prefix(state: Mapping[str, torch.Tensor],
                 prefix: str) -> 'OrderedDict[str, torch.Tensor]':
    """Keep the keys that start with ``prefix``, without it."""
    return OrderedDict(
        (k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
