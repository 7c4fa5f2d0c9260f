"""Several teachers, one plain student (kdep_mm.models.teachers): the
channel rule, the standardisation, the targets and loss recomputed by
hand, and the refusals of a basis file made for other teachers."""
import warnings

import pytest
import torch

from kdep_mm.basis import fit_basis, load_basis_into, save_model_basis
from kdep_mm.models.alignment import power_temperature_scaling
from kdep_mm.models.taps import map_rows
from kdep_mm.models.teachers import channel_slices, make_teachers
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.tiny import Batches

R18 = dict(type='ResNet', depth=18)
MBV2 = dict(type='MobileNetV2', widen_factor=0.5)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    from tests.helpers.datagen import save_backbone
    root = tmp_path_factory.mktemp('multi')
    return dict(
        r18=save_backbone(R18, str(root / 'r18.pth'), seed=1),
        mbv2=save_backbone(MBV2, str(root / 'mbv2.pth'), seed=2))


def build(files, order=('r18', 'mbv2'), names=None, **kwargs):
    cfgs = dict(r18=R18, mbv2=MBV2)
    weights = dict(r18=1.0, mbv2=3.0)
    teachers = [
        dict(model=cfgs[k], checkpoint=files[k], weight=weights[k])
        for k in order
    ]
    for t, name in zip(teachers, names or ()):
        t['name'] = name
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return build_mmpretrain(
            dict(
                type='KDEP',
                backbone=R18,
                teachers=teachers,
                probe_size=32,
                **kwargs))


def fit(model, n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g) * 255
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # rank < k on 24 images

        class Quiet:

            def info(self, *args):
                pass

        return fit_basis(model, Batches(images, 10), logger=Quiet()), images


def test_the_channel_rule():
    assert channel_slices([0.5, 0.5], 5) == [(0, 3), (3, 5)]
    assert channel_slices([0.25, 0.75], 512) == [(0, 128), (128, 512)]
    thirds = channel_slices([1 / 3] * 3, 512)
    assert thirds == [(0, 171), (171, 342), (342, 512)]
    # shares from weights; a fixed `channels` leaves the rest by weight
    ts = make_teachers(None, [dict(weight=1), dict(weight=3)], 1.0)
    assert [t.share for t in ts] == [0.25, 0.75]
    assert [t.weight for t in ts] == [0.25, 0.75]
    ts = make_teachers(None, [dict(channels=0.5), dict(), dict()], 1.0)
    assert [t.share for t in ts] == [0.5, 0.25, 0.25]
    assert [t.name for t in ts] == ['t0', 't1', 't2']
    with pytest.raises(ValueError, match='sum to 1.5'):
        make_teachers(None, [dict(channels=0.75), dict(channels=0.75)], 1.0)
    with pytest.raises(ValueError, match='distinct identifiers'):
        make_teachers(None, [dict(name='a'), dict(name='a')], 1.0)
    with pytest.raises(ValueError, match='not both'):
        make_teachers(dict(model=R18), [dict()], 1.0)
    with pytest.raises(ValueError, match='cannot give every teacher'):
        channel_slices([0.999, 0.001], 4)


def test_terms_are_one_per_teacher_on_its_slice(files):
    model = build(files, terms=[dict(), dict(stride=16)])
    assert [t.name for t in model.terms
            ] == ['t0/pooled', 't1/pooled', 't0/dense_s16', 't1/dense_s16']
    assert [t.channels for t in model.terms] == [(0, 128), (128, 512), (0, 64),
                                                 (64, 256)]
    # k_j = the slice, capped at the teacher's width (MobileNetV2 x0.5:
    # 1280 pooled, 48 at stride 16)
    assert [t.align.k for t in model.terms] == [128, 384, 64, 48]
    assert all(t.align.standardize for t in model.terms)
    # loss weights times the normalised teacher weights (1:3)
    assert [t.loss.loss_weight
            for t in model.terms] == [0.75, 2.25, 0.25, 0.75]
    assert model.teacher is None and len(model.teachers_list) == 2
    assert not any(
        k.startswith(('t0', 't1', 'teacher')) for k in model.state_dict())
    only = build(files, terms=[dict(), dict(stride=16, teacher='t1')])
    assert [t.name
            for t in only.terms] == ['t0/pooled', 't1/pooled', 't1/dense_s16']
    with pytest.raises(ValueError, match="teacher='x' is not one of"):
        build(files, terms=[dict(teacher='x')])
    with pytest.raises(ValueError, match='use SVDPTSAlignment'):
        build(files, terms=[dict(align=dict(type='ParametricAlignment'))])


def _hand_basis(rows: torch.Tensor):
    """Mean, directions (signs: largest entry positive) and singular values
    of ``rows`` by an SVD in float64, independent of the library."""
    rows = rows.double()
    mean = rows.mean(0)
    _, s, vh = torch.linalg.svd(rows - mean, full_matrices=False)
    v = vh.T
    idx = v.abs().argmax(0)
    v = v * torch.sign(v[idx, torch.arange(v.shape[1])])
    return mean, v, s


def test_targets_and_loss_recomputed_by_hand(files):
    model = build(files, terms=[dict(), dict(stride=16)])
    _, images = fit(model)
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    x = x * 255
    model.train()
    losses = model.loss(
        model.data_preprocessor(dict(inputs=list(x)), True)['inputs'])
    inputs = model.data_preprocessor(dict(inputs=list(x)), False)['inputs']
    basis_in = model.data_preprocessor(dict(inputs=list(images)),
                                       False)['inputs']
    with torch.no_grad():
        student = model.student_outputs(inputs)
        feats = model.teacher_outputs(inputs)
        rows = model.teacher_outputs(basis_in)
    total = 0
    for term in model.terms:
        r_all = rows[term.name]
        if term.is_map:
            r_all = map_rows(r_all)
        mean, v, s = _hand_basis(r_all)
        n, k = r_all.shape[0], term.channels[1] - term.channels[0]
        r = min(k, r_all.shape[1], n - 1)  # the rank of n rows
        spread = (s[:r].square().sum() / (r * n)).sqrt()
        f_t, f_s = feats[term.name].double(), student[term.name]
        if term.is_map:
            f_t, f_s = map_rows(f_t), map_rows(f_s)
        z = (f_t - mean) @ v[:, :r] / spread
        target = power_temperature_scaling(z, 0.1, 3.0)
        pred = f_s[:, term.channels[0]:term.channels[0] + r].double()
        base = 3.0 if term.stride is None else 1.0
        weight = base * dict(t0=0.25, t1=0.75)[term.teacher]
        expect = weight * ((pred - target)**2).mean()
        got = losses[f'loss_{term.name}']
        assert torch.allclose(got.double(), expect, rtol=2e-4), term.name
        assert float(term.align.spread) == pytest.approx(float(spread), 1e-4)
        total = total + got.detach()
    shares = [losses['share_t0'], losses['share_t1']]
    t0 = losses['loss_t0/pooled'] + losses['loss_t0/dense_s16']
    assert float(shares[0]) == pytest.approx(float(t0 / total), 1e-6)
    assert float(sum(shares)) == pytest.approx(1.0, 1e-6)


def test_standardised_coordinates_have_unit_spread(files):
    """The spread is the RMS standard deviation of the distilled
    coordinates of the basis rows: after division they have unit RMS."""
    model = build(files)
    _, images = fit(model, n=40)
    inputs = model.data_preprocessor(dict(inputs=list(images)),
                                     False)['inputs']
    with torch.no_grad():
        feats = model.teacher_outputs(inputs)
    for term in model.terms:
        a = term.align
        z = a.project(feats[term.name])[:, :a.num_targets] / a.spread
        rms = z.double().var(0, unbiased=False).mean().sqrt()
        assert float(rms) == pytest.approx(1.0, abs=1e-4), term.name


def test_a_basis_of_other_teachers_is_refused(files, tmp_path):
    model = build(files)
    results, _ = fit(model)
    path = save_model_basis(model, results, str(tmp_path / 'b.pth'))
    same = build(files)
    load_basis_into(same, path)
    assert torch.equal(same.terms[1].align.basis, model.terms[1].align.basis)
    # the other order: t0 is now the MobileNetV2, each slot and the order
    # named with both sides
    swapped = build(files, order=('mbv2', 'r18'))
    with pytest.raises(ValueError) as e:
        load_basis_into(swapped, path)
    msg = str(e.value)
    assert '(t0/pooled)' in msg and '(t1/pooled)' in msg
    assert 'teacher_fingerprint: file has' in msg
    assert 'teachers: file has' in msg
    r18 = model.teachers_list[0].info['fingerprint']
    assert f't0 ({r18})' in msg
    # the same teachers in another order under their own names: the
    # records fit, the order does not (it fixes the slices)
    named = build(files, names=('a', 'b'))
    path2 = save_model_basis(named, fit(named)[0], str(tmp_path / 'named.pth'))
    renamed = build(files, order=('mbv2', 'r18'), names=('b', 'a'))
    with pytest.raises(ValueError, match=r'(?s)\(b/pooled\).*teachers: file'):
        load_basis_into(renamed, path2)
    # another set: a slot is missing
    one = build(files, order=('r18', ))
    with pytest.raises(ValueError, match='teachers: file has'):
        load_basis_into(one, path)
    assert not any(a.is_initialized for a in swapped.basis_slots().values())


def test_the_meta_records_every_teacher(files):
    model = build(files, terms=[dict(), dict(stride=16)])
    meta = model.kdep_meta()
    listed = meta['teacher']['teachers']
    assert [t['name'] for t in listed] == ['t0', 't1']
    assert [t['channels'] for t in listed] == [0.25, 0.75]
    assert meta['teacher']['fingerprint'] == '+'.join(t['fingerprint']
                                                      for t in listed)
    assert [t['channels'] for t in meta['terms']] == [[0, 128], [128, 512],
                                                      [0, 64], [64, 256]]
