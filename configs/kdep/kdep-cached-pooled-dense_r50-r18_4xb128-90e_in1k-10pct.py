# Pooled + dense KDEP from a target cache: the pooled + dense recipe
# (kdep-pooled-dense_r50-r18_*: the paper's pooled term plus map terms at
# C3-C5) with no teacher in memory and no teacher forward in the step. Build
# the cache once from the online config (R = 10 crops per image; each crop's
# pooled projection on r = 512 directions and its projected maps at strides
# 8 / 16 / 32 on r_l = k_l directions, float16; --dense-dim and --dense-grid
# trade fidelity for disk, see docs/target_cache.md):
#
#   python tools/build_target_cache.py \
#       configs/kdep/kdep-pooled-dense_r50-r18_4xb128-90e_in1k-10pct.py \
#       --out data/kdep_cache/r50_pooled-dense_in1k-10pct --crops 10
#   bash tools/dist_train.sh \
#     configs/kdep/kdep-cached-pooled-dense_r50-r18_4xb128-90e_in1k-10pct.py 4
#
# The cache folder is named once, in model.cache; KDEPBasisHook binds the
# pipeline's ReplayCachedCrop to it and checks the pool when training starts.
_base_ = ['./kdep-cached_r50-r18_4xb128-90e_in1k-10pct.py']

model = dict(
    _delete_=True,
    type='KDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    cache='data/kdep_cache/r50_pooled-dense_in1k-10pct',
    terms=[
        dict(weight=20.0),
        dict(stride=8, weight=20 / 3),
        dict(stride=16, weight=20 / 3),
        dict(stride=32, weight=20 / 3),
    ])
