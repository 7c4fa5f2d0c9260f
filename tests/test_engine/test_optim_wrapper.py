"""The fast path: mixed precision (bf16 on CPU through
:class:`MixedPrecisionOptimWrapper`) and channels-last memory format train
KDEP (finite, decreasing loss on a fixed batch), and the KDEP target stays
float32 under autocast. (``tools/train.py --amp``:
tests/tools/test_train.py.)"""
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from kdep_mm.engine import MixedPrecisionOptimWrapper, amp_optim_wrapper_cfg
from tests.helpers.tiny import build_kdep, set_random_basis

SIZE, BATCH, STEPS = 32, 8, 6


def seeded_kdep(teacher: dict, channels_last: bool = False):
    torch.manual_seed(0)
    model = build_kdep(teacher, probe_size=SIZE, channels_last=channels_last)
    set_random_basis(model.align, seed=0)
    return model.train()


def fixed_batch() -> dict:
    g = torch.Generator().manual_seed(1)
    return dict(
        inputs=torch.randint(
            0, 256, (BATCH, 3, SIZE, SIZE), dtype=torch.uint8, generator=g))


def train_losses(model, optim_wrapper_cfg: dict, steps: int = STEPS) -> list:
    wrapper = build_optim_wrapper(model, optim_wrapper_cfg)
    data = fixed_batch()
    losses = [
        float(model.train_step(data, wrapper)['loss'].detach())
        for _ in range(steps)
    ]
    return losses, wrapper


def sgd(lr: float = 0.05) -> dict:
    return dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9))


def assert_decreasing(losses: list) -> None:
    assert all(torch.isfinite(torch.tensor(losses))), losses
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize('channels_last', [False, True])
def test_amp_bf16_loss_decreases(r34_teacher, channels_last):
    model = seeded_kdep(r34_teacher, channels_last)
    losses, wrapper = train_losses(model, amp_optim_wrapper_cfg(sgd()))
    assert isinstance(wrapper, MixedPrecisionOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16  # CPU: bf16, no scaler
    assert wrapper.loss_scaler is None
    assert_decreasing(losses)


def test_channels_last_fp32_loss_decreases(r34_teacher):
    model = seeded_kdep(r34_teacher, channels_last=True)
    conv = model.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert model.teacher.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    losses, _ = train_losses(model, sgd())
    assert_decreasing(losses)


def test_amp_fp16_loss_scaling_runs(r34_teacher):
    """float16 + dynamic loss scaling (the path of GPUs without bf16); the
    dtype --amp chose is logged once."""
    import logging

    from mmengine.logging import MMLogger
    model = seeded_kdep(r34_teacher)
    cfg = amp_optim_wrapper_cfg(sgd())
    cfg['dtype'] = 'float16'
    said = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        losses, wrapper = train_losses(model, cfg, steps=3)
    finally:
        logger.removeHandler(handler)
    assert wrapper.loss_scaler is not None
    assert all(torch.isfinite(torch.tensor(losses))), losses
    amp = [m for m in said if m.startswith('--amp')]
    assert amp == [
        "--amp: autocast to float16 on cpu (dtype='float16', "
        'dynamic loss scaling)'
    ]


def test_teacher_runs_in_the_same_precision(r34_teacher):
    model = seeded_kdep(r34_teacher)
    x = model.data_preprocessor(fixed_batch())['inputs']
    with torch.autocast('cpu', dtype=torch.bfloat16):
        f_t = model.extract_teacher_feat(x)
        f_s = model.extract_feat(x)
        pred, target = model.align(f_s, f_t)
    assert f_t.dtype == torch.bfloat16 and not f_t.requires_grad
    assert f_s.dtype == torch.bfloat16 and f_s.requires_grad
    # the alignment (projection + PTS) and the loss inputs are float32
    assert pred.dtype == torch.float32 and target.dtype == torch.float32


def test_alignment_fp32_under_amp(r34_teacher):
    """Tolerances: on the same float32 teacher feature the target under
    autocast is bit-identical to float32 (autocast is disabled inside it).
    From a teacher that itself ran in bf16 the target differs by bf16
    rounding of the feature, amplified by PTS's cube root near zero: the
    mean absolute difference stays below 5% of the target's RMS."""
    model = seeded_kdep(r34_teacher)
    x = model.data_preprocessor(fixed_batch())['inputs']
    align = model.align
    f_t32 = model.extract_teacher_feat(x)
    ref = align.target(f_t32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        same = align.target(f_t32)
        f_t16 = model.extract_teacher_feat(x)
        amp = align.target(f_t16)
    assert same.dtype == torch.float32 and amp.dtype == torch.float32
    torch.testing.assert_close(same, ref, rtol=0, atol=0)
    rms = ref.pow(2).mean().sqrt()
    assert (amp - ref).abs().mean() < 0.05 * rms
    # the teacher feature itself: bf16 has an 8-bit mantissa
    torch.testing.assert_close(
        f_t16.float(), f_t32, rtol=0.05, atol=0.05 * f_t32.abs().mean())
