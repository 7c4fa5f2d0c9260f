"""The OpenMMLab stack works on this machine, for real."""
import os.path as osp
import pickle

import pytest
import torch
import torch.nn as nn

from kdep_mm.utils import load_weights


def test_imports():
    import mmdet.models  # noqa: F401
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    import torchvision  # noqa: F401  (needed by mmengine and mmpretrain)

    import kdep_mm
    assert kdep_mm.__version__


def test_mmcv_ops_on_cpu():
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    feat = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8)
    rois = torch.tensor([[0, 0, 0, 4, 4.]])
    out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2)(feat, rois)
    assert out.shape == (1, 1, 2, 2)
    # Bilinear samples of a linear ramp: the pooled grid is ordered.
    assert out[0, 0, 0, 0] < out[0, 0, 0, 1] < out[0, 0, 1, 0]


class _Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)

    def forward(self, x):
        return self.lin(x)


def _runner(work_dir, max_iters, resume=False):
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Model(BaseModel):

        def __init__(self):
            super().__init__()
            self.net = _Toy()

        def forward(self, inputs, data_samples=None, mode='loss'):
            x = torch.stack(inputs) if isinstance(inputs, list) else inputs
            return dict(loss=self.net(x).pow(2).mean())

    g = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(4, generator=g)) for _ in range(16)]
    return Runner(
        model=Model(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='InfiniteSampler', shuffle=False),
            batch_size=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        resume=resume,
        randomness=dict(seed=0))


def test_runner_trains_saves_and_resumes(tmp_path):
    work = str(tmp_path)
    runner = _runner(work, max_iters=2)
    runner.train()
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    weights = runner.model.net.lin.weight.detach().clone()
    # The checkpoint mmengine wrote loads with weights_only=True (with the
    # kdep_mm.compat shims that tools/train.py applies; tests/conftest.py).
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), weights_only=True)
    assert ckpt['meta']['iter'] == 2 and 'message_hub' in ckpt
    resumed = _runner(work, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    assert osp.isfile(osp.join(work, 'iter_4.pth'))
    assert not torch.equal(resumed.model.net.lin.weight, weights)


class Evil:
    """A pickled object that would run code when unpickled."""

    def __reduce__(self):
        return (open, ('/tmp/kdep_mm_evil_marker', 'w'))


def test_weights_only_loading(tmp_path):
    good = str(tmp_path / 'good.pth')
    torch.save(_Toy().state_dict(), good)
    state = load_weights(good)
    _Toy().load_state_dict(state)
    evil = str(tmp_path / 'evil.pth')
    torch.save({'lin.weight': torch.zeros(1, 4), 'x': Evil()}, evil)
    marker = '/tmp/kdep_mm_evil_marker'
    if osp.exists(marker):
        import os
        os.remove(marker)
    with pytest.raises(pickle.UnpicklingError, match='refusing to load'):
        load_weights(evil)
    assert not osp.exists(marker)
    with pytest.raises(FileNotFoundError, match='not found'):
        load_weights(str(tmp_path / 'missing.pth'))
