"""The one distiller made of terms: the terms spelling builds the model
the older names build (same state, same losses), each term is validated
with a message naming it, a dense-only checkpoint written before the terms
still loads, and hooks read the declared interface (the last step's
tensors of every term, in data-flow order)."""
import pytest
import torch

from kdep_mm.models import Distiller
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.tiny import set_random_basis

STUDENT = dict(type='ResNet', depth=18, zero_init_residual=False)


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    from tests.helpers.datagen import save_backbone
    path = str(tmp_path_factory.mktemp('terms') / 'r18.pth')
    cfg = dict(type='ResNet', depth=18)
    return dict(model=cfg, checkpoint=save_backbone(cfg, path))


def _build(teacher, **kwargs):
    torch.manual_seed(0)
    return build_mmpretrain(
        dict(
            dict(
                type='KDEP', backbone=STUDENT, teacher=teacher, probe_size=32),
            **kwargs))


def test_terms_build_what_dense_kdep_builds(teacher):
    dense = _build(
        teacher,
        type='DenseKDEP',
        dense=[dict(stride=8, loss_weight=0.5),
               dict(stride=32)])
    terms = _build(
        teacher,
        terms=[
            dict(loss=dict(type='KDEPLoss', mode='mse', loss_weight=3.0)),
            dict(stride=8, weight=0.5),
            dict(stride=32)
        ])
    assert [t.name for t in terms.terms] == ['pooled', 'dense_s8', 'dense_s32']
    a, b = dense.state_dict(), terms.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert dense.kdep_meta() == terms.kdep_meta()
    for model in (dense, terms):
        for i, align in enumerate(model.basis_slots().values()):
            set_random_basis(align, seed=i)
    x = torch.rand(2, 3, 32, 32) * 255
    la, lb = dense.loss(x), terms.loss(x)
    assert list(la) == ['loss_pooled', 'loss_dense_s8', 'loss_dense_s32']
    assert all(torch.equal(la[k], lb[k]) for k in la)


@pytest.mark.parametrize('terms, cache, match', [
    ([dict(strid=8)], None, r"pooled: unknown keys \['strid'\]"),
    ([dict(source='disk')], None, "source must be one of"),
    ([dict(weight=1.0, loss=dict(type='KDEPLoss'))
      ], None, 'weight= or loss=, not both'),
    ([dict(source='cache')], None, 'reads the cache but the model has no'),
    ([dict(), dict(name='again')], None, 'at most one pooled term'),
    ([dict(stride=8), dict(stride=8)], None, 'two terms share a name'),
    ([dict(stride=8, align=dict(type='ParametricAlignment'))
      ], None, 'map terms and cached terms use SVDPTSAlignment'),
])
def test_a_bad_term_is_named(teacher, terms, cache, match):
    with pytest.raises(ValueError, match=match):
        _build(teacher, terms=terms, cache=cache)


def test_an_online_term_needs_a_teacher():
    with pytest.raises(ValueError, match='has no teacher='):
        build_mmpretrain(
            dict(type='KDEP', backbone=STUDENT, terms=[dict()], probe_size=32))


def test_a_dense_only_checkpoint_of_before_the_terms_loads(teacher):
    """Before the terms, a dense-only model kept an unused pooled
    alignment (``align.*``); its checkpoints load strictly now."""
    model = _build(
        teacher, type='DenseKDEP', pooled=False, dense=[dict(stride=16)])
    assert not hasattr(model, 'align')
    state = model.state_dict()
    old = dict(state)
    for key in ('mean', 'basis', 'spectrum', 'rank', 'num_images',
                'initialized'):
        old[f'align.{key}'] = torch.zeros(1)
    model.load_state_dict(old, strict=True)
    model_with_pool = _build(
        teacher, type='DenseKDEP', dense=[dict(stride=16)])
    with pytest.raises(RuntimeError, match='align.mean'):
        model_with_pool.load_state_dict(state, strict=True)


def test_last_tensors_of_every_term_in_data_flow_order(teacher):
    model = _build(teacher, terms=[dict(), dict(stride=16)])
    assert isinstance(model, Distiller) and model.needs_teacher
    for i, align in enumerate(model.basis_slots().values()):
        set_random_basis(align, seed=i)
    model.train()
    model.loss(torch.rand(2, 3, 32, 32) * 255)
    names = list(model.last_tensors())
    assert names == [
        f'{t}: {what}' for t in ('pooled', 'dense_s16')
        for what in ('teacher feature', 'student feature', 'target',
                     'prediction')
    ]
    assert model.last_tensors()['dense_s16: student feature'].dim() == 4


def test_online_and_cached_terms_must_share_the_teacher(teacher, tmp_path):
    from tests.test_datasets.test_target_cache.helpers import (image_paths,
                                                               write_cache)
    folder = str(tmp_path / 'c')
    write_cache(folder, image_paths(str(tmp_path / 'img')))
    with pytest.raises(ValueError, match="built with teacher 'f00d'"):
        _build(
            teacher,
            cache=folder,
            terms=[dict(source='teacher'),
                   dict(stride=8, source='cache')])
