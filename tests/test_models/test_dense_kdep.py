"""Dense KDEP against hand computations: the map basis is the SVD of the
teacher's location vectors, the target at every location is PTS of its
projection, resampling, rank masking per stage, the basis file per stage,
and the state a resumed run gets back."""
import pytest
import torch
import torch.nn.functional as F

from kdep_mm.basis import fit_basis, load_basis_into, save_model_basis
from kdep_mm.models import power_temperature_scaling, resample_map
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.tiny import Batches

R18 = dict(type='ResNet', depth=18)
STUDENT = dict(type='ResNet', depth=18, zero_init_residual=False)


def build_dense(teacher: dict, dense, size: int = 32, **kwargs):
    return build_mmpretrain(
        dict(
            type='DenseKDEP',
            backbone=kwargs.pop('backbone', STUDENT),
            teacher=teacher,
            probe_size=size,
            dense=dense,
            **kwargs))


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    from tests.helpers.datagen import save_backbone
    path = str(tmp_path_factory.mktemp('dense') / 'r18.pth')
    return dict(model=R18, checkpoint=save_backbone(R18, path, seed=1))


def _fit(model, n: int = 12, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, size, size, generator=g) * 255
    with pytest.warns(UserWarning, match='numerical rank'):
        return fit_basis(model, Batches(images, 5), logger=_Quiet())


class _Quiet:

    def info(self, *args):
        pass


def _stage_pre_activation(net, x: torch.Tensor, stage: int) -> torch.Tensor:
    """A ResNet's stage output before its last ReLU, computed by hand."""
    h = net.maxpool(net.relu(net.norm1(net.conv1(x))))
    for i in range(stage + 1):
        layer = getattr(net, net.res_layers[i])
        for j, block in enumerate(layer):
            if i == stage and j == len(layer) - 1:
                identity = h if block.downsample is None else \
                    block.downsample(h)
                out = block.norm1(block.conv1(h))
                out = block.norm2(block.conv2(block.relu(out)))
                return out + identity
            h = block(h)


def test_map_basis_is_the_svd_of_the_teacher_location_vectors(teacher):
    model = build_dense(teacher, [dict(stride=8)], pooled=False)
    res = _fit(model)['dense_s8']
    g = torch.Generator().manual_seed(0)
    images = torch.rand(12, 3, 32, 32, generator=g) * 255
    x = model.data_preprocessor(dict(inputs=list(images)))['inputs']
    with torch.no_grad():
        fmap = _stage_pre_activation(model.teacher, x, 1)  # (12, 128, 4, 4)
    rows = fmap.permute(0, 2, 3, 1).reshape(-1, 128).double()
    assert res['num_images'] == 12 * 16  # every location of every image
    centred = rows - rows.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    torch.testing.assert_close(res['mean'].double(), rows.mean(0))
    torch.testing.assert_close(
        res['spectrum'][:20].double(), s[:20], rtol=1e-4, atol=1e-4)
    # the leading directions, up to sign
    cos = (res['basis'][:, :10].double().T @ vh[:10].T).diagonal().abs()
    assert (cos > 0.999).all(), cos


def test_the_target_is_pts_of_the_projection_at_every_location(teacher):
    model = build_dense(teacher, [dict(stride=16)], pooled=False)
    _fit(model, n=20)
    align = model.dense_align[0]
    x = torch.randn(2, 3, 32, 32)
    pred, target = model._pairs(x)['dense_s16']
    with torch.no_grad():
        f_t = _stage_pre_activation(model.teacher, x, 2)  # (2, 256, 2, 2)
    f_s = _stage_pre_activation(model.backbone, x, 2)
    r = align.num_targets
    assert r == int(align.rank) < align.k == 256  # masked beyond the rank
    assert pred.shape == target.shape == (2 * 2 * 2, r)
    for b in range(2):
        for i in range(2):
            for j in range(2):
                row = (b * 2 + i) * 2 + j
                z = (f_t[b, :, i, j] - align.mean) @ align.basis
                want = power_temperature_scaling(z, 0.1, 3.0)[:r]
                torch.testing.assert_close(target[row], want)
                torch.testing.assert_close(pred[row], f_s[b, :r, i, j])


def test_resample_map():
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    assert resample_map(x, (4, 4)) is x
    area = resample_map(x, (2, 2))  # means of the 2x2 blocks
    assert torch.equal(area, torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    up = resample_map(area, (4, 4))
    torch.testing.assert_close(
        up, F.interpolate(area, (4, 4), mode='bilinear', align_corners=False))
    assert torch.equal(
        resample_map(torch.ones(1, 3, 2, 2), (8, 8)), torch.ones(1, 3, 8, 8))


def test_a_vit_teacher_grid_is_resampled_to_the_student_stride(tmp_path):
    """deit-tiny at 64 px has one 4x4 token grid (stride 16); the student's
    stride-32 map is 2x2: the target is the projection of the area-averaged
    normalised patch tokens."""
    from tests.helpers.datagen import save_backbone
    vit = dict(
        type='VisionTransformer', arch='deit-tiny', img_size=64, patch_size=16)
    ckpt = save_backbone(vit, str(tmp_path / 'vit.pth'))
    model = build_dense(
        dict(model=vit, checkpoint=ckpt), [dict(stride=32)],
        size=64,
        pooled=False)
    info = model.terms[0].info
    assert (info['teacher_stride'], info['d_t'], info['k']) == (16, 192, 192)
    assert info['teacher_tap'] == 'ln1:output[call=-1]:pool=map:skip=1'
    _fit(model, n=6, size=64)
    align = model.dense_align[0]
    x = torch.randn(1, 3, 64, 64)
    _, target = model._pairs(x)['dense_s32']
    with torch.no_grad():
        grid = _vit_grid(model.teacher, x)
    avg = F.avg_pool2d(grid, 2)  # (1, 192, 2, 2)
    z = (avg[0, :, 0, 1] - align.mean) @ align.basis
    want = power_temperature_scaling(z, 0.1, 3.0)[:align.num_targets]
    torch.testing.assert_close(target[1], want)  # row 1: location (0, 1)


def _vit_grid(vit, x: torch.Tensor) -> torch.Tensor:
    """A ViT's normalised patch tokens as a map, by hand."""
    h, hw = vit.patch_embed(x)
    h = torch.cat([vit.cls_token.expand(1, -1, -1), h], dim=1)
    h = vit.pre_norm(h + vit.pos_embed)
    for layer in vit.layers:
        h = layer(h)
    h = vit.ln1(h)[:, 1:]
    return h.transpose(1, 2).reshape(1, -1, *hw)


def test_rank_and_width_masking_per_stage(backbone_file):
    """MobileNetV2 x0.5 teacher: 16 channels at stride 8 (the student's
    128-channel stage distils 16, with a warning naming 16..127) and, at
    stride 32, conv2.bn's 1280 channels of rank <= 160 (its input)."""
    mbv2 = dict(type='MobileNetV2', widen_factor=0.5)
    teacher = dict(model=mbv2, checkpoint=backbone_file(mbv2))
    with pytest.warns(
            UserWarning,
            match=r'dense_s8: .*128 channels.*only 16.*channels '
            r'16\.\.127 get no target'):
        model = build_dense(
            teacher, [dict(stride=8), dict(stride=32)], size=64, pooled=False)
    s8, s32 = model.dense_align
    assert (s8.k, s32.k, s32.d_t) == (16, 512, 1280)
    _fit(model, n=60, size=64)  # 240 location vectors at stride 32
    assert s8.num_targets == 16
    assert s32.num_targets == int(s32.rank) == 160
    pairs = model._pairs(torch.randn(2, 3, 64, 64))
    assert pairs['dense_s8'][0].shape == (2 * 8 * 8, 16)
    assert pairs['dense_s32'][1].shape == (2 * 2 * 2, 160)


def test_losses_are_the_weighted_terms(teacher):
    model = build_dense(
        teacher, [dict(stride=8, loss_weight=0.5),
                  dict(stride=32)],
        pooled=True)
    _fit(model, n=20)
    x = torch.randn(3, 3, 32, 32)
    losses = model.loss(x)
    assert set(losses) == {'loss_pooled', 'loss_dense_s8', 'loss_dense_s32'}
    pairs = model._pairs(x)
    torch.testing.assert_close(losses['loss_dense_s8'],
                               0.5 * F.mse_loss(*pairs['dense_s8']))
    torch.testing.assert_close(losses['loss_pooled'],
                               3.0 * F.mse_loss(*pairs['pooled']))
    sum(losses.values()).backward()
    assert model.backbone.layer2[1].conv2.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    dense_only = build_dense(teacher, [dict(stride=8)], pooled=False)
    assert list(dense_only.basis_slots()) == ['dense_s8']


def test_a_basis_file_is_refused_for_other_stages_or_teachers(
        teacher, tmp_path, backbone_file):
    model = build_dense(teacher, [dict(stride=8), dict(stride=16)])
    path = save_model_basis(model, _fit(model, n=20), str(tmp_path / 'b.pth'))
    same = build_dense(teacher, [dict(stride=8), dict(stride=16)])
    with pytest.warns(UserWarning, match='numerical rank'):
        load_basis_into(same, path)
    for a, b in zip(same.dense_align, model.dense_align):
        assert torch.equal(a.basis, b.basis) and a.is_initialized

    other_stage = build_dense(teacher, [dict(stride=8), dict(stride=32)])
    with pytest.raises(ValueError, match=r"no basis for \['dense_s32'\]"):
        load_basis_into(other_stage, path)
    other = dict(model=R18, checkpoint=backbone_file(R18, seed=7))
    other_teacher = build_dense(other, [dict(stride=8), dict(stride=16)])
    with pytest.raises(ValueError, match='teacher_fingerprint'):
        load_basis_into(other_teacher, path)
    other_tap = build_dense(teacher, [
        dict(
            stride=8,
            teacher_tap=dict(module='layer2.1', hook='output', pool='map')),
        dict(stride=16)
    ])
    with pytest.raises(
            ValueError,
            match=r'(?s)\(dense_s8\).*location vectors.*teacher_tap'):
        load_basis_into(other_tap, path)
    # nothing was installed by a refused file
    for m in (other_stage, other_teacher, other_tap):
        assert not any(a.is_initialized for a in m.basis_slots().values())


def test_a_checkpoint_restores_every_stage_basis(teacher):
    model = build_dense(teacher, [dict(stride=8), dict(stride=32)])
    _fit(model, n=20)
    fresh = build_dense(teacher, [dict(stride=8), dict(stride=32)])
    assert not any(a.is_initialized for a in fresh.basis_slots().values())
    fresh.load_state_dict(model.state_dict(), strict=True)
    for name, a in fresh.basis_slots().items():
        b = model.basis_slots()[name]
        assert a.is_initialized and int(a.rank) == int(b.rank), name
        assert torch.equal(a.basis, b.basis) and torch.equal(a.mean, b.mean)
    x = torch.randn(2, 3, 32, 32)
    assert all(
        torch.equal(v,
                    fresh.loss(x)[k]) for k, v in model.loss(x).items())


def test_dense_r2_metric_per_stage(teacher):
    from kdep_mm.evaluation import KDEPR2Metric, r2_scores
    model = build_dense(teacher, [dict(stride=8)])
    _fit(model, n=20)
    model.eval()
    x = torch.randn(4, 3, 32, 32)
    metric = KDEPR2Metric(top_k=(8, ))
    metric.process(None, model.predict(x[:3]))
    metric.process(None, model.predict(x[3:]))
    out = metric.compute_metrics(metric.results)
    pred, target = model._pairs(x)['dense_s8']
    want = r2_scores(pred, target, (8, ))
    assert out['dense_s8_r2'] == pytest.approx(want['r2'], rel=1e-5)
    assert out['dense_s8_r2_top8'] == pytest.approx(want['r2_top8'], rel=1e-5)
    assert {'r2', 'mse', 'dense_s8_mse'} <= set(out)
