"""Any timm model as a teacher, through mmpretrain's TIMMBackbone and a
local weights file: the built-in pooled point and maps against hand
computations, a few KDEP steps, and the hub path never taken here."""
import pytest
import torch

from kdep_mm.models.taps import FeatureTap, map_tap_candidates, measure_strides
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.tiny import build_kdep, fill_basis

pytest.importorskip('timm')

LITE0 = dict(type='TIMMBackbone', model_name='tf_efficientnet_lite0')
VIT = dict(type='TIMMBackbone', model_name='vit_tiny_patch16_224', img_size=64)


def _teacher(cfg: dict, tmp_path) -> dict:
    torch.manual_seed(0)
    net = build_mmpretrain(cfg)
    path = str(tmp_path / 'timm_teacher.pth')
    torch.save(net.state_dict(), path)
    return dict(model=cfg, checkpoint=path)


def test_efficientnet_teacher_taps_the_pre_activation_head(tmp_path):
    """tf_efficientnet_lite0: the pooled BatchNorm output of conv_head
    before its ReLU6 (bn2 is a BatchNormAct2d), 1280-d."""
    model = build_kdep(_teacher(LITE0, tmp_path), probe_size=64)
    assert model.teacher_tap.describe().startswith('timm_model.bn2.act:input')
    assert model.align.d_t == 1280
    x = torch.randn(2, 3, 64, 64)
    m = model.teacher.timm_model
    with torch.no_grad():
        h = m.blocks(m.bn1(m.conv_stem(x)))
        bn = m.bn2
        pre = torch.nn.functional.batch_norm(
            m.conv_head(h), bn.running_mean, bn.running_var, bn.weight,
            bn.bias, False, 0.0, bn.eps)
    feat = model.extract_teacher_feat(x)
    torch.testing.assert_close(feat, pre.mean((2, 3)))
    assert (pre < 0).any()  # before ReLU6: negative values kept
    with pytest.warns(UserWarning, match='numerical rank'):
        fill_basis(model, n=40, size=64)
    from mmengine.optim import OptimWrapper
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    model.train()
    data = dict(inputs=torch.randint(0, 255, (4, 3, 64, 64)).float())
    losses = [model.train_step(data, wrapper)['loss'].item() for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(losses))), losses


def test_vit_teacher_taps_the_class_token_and_its_grid(tmp_path):
    """timm's ViT: the class token after the final norm (its pre-logits
    feature with global_pool='token'), and the patch tokens as a map."""
    model = build_kdep(_teacher(VIT, tmp_path), probe_size=64)
    assert model.teacher_tap.pool == 'token0' and model.align.d_t == 192
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        tokens = model.teacher.timm_model.forward_features(x)
    torch.testing.assert_close(model.extract_teacher_feat(x), tokens[:, 0])
    net = model.teacher
    taps = [FeatureTap(**c).attach(net) for c in map_tap_candidates(net)]
    found = measure_strides(net, taps, 64)
    assert {f['stride'] for f in found} == {16}
    assert found[-1]['grid'] == (4, 4) and found[-1]['channels'] == 192


def test_a_local_file_wins_over_the_hub(tmp_path):
    """``pretrained=True`` with a checkpoint: built without downloading
    (pretrained forced off), weights from the file; without either, the
    teacher is refused."""
    from kdep_mm.models.teacher import build_teacher
    cfg = dict(_teacher(LITE0, tmp_path), model=dict(LITE0, pretrained=True))
    teacher, info = build_teacher(cfg)
    want = torch.load(cfg['checkpoint'], weights_only=True)
    assert all(
        torch.equal(v, want[k]) for k, v in teacher.state_dict().items())
    assert info['checkpoint'] == cfg['checkpoint']
    with pytest.raises(ValueError, match='checkpoint is required'):
        build_teacher(dict(model=LITE0))
