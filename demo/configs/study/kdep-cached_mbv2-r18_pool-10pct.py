# Study arm "KDEP from a target cache, 10%" (issue 15): the KDEP-10% arm
# trained from a cache of R = 10 teacher crops per image (built by
# tools/build_target_cache.py from kdep_mbv2-r18_pool-10pct.py before the
# run; the study points `cache` at it) instead of a fresh crop and a teacher
# forward per step. Same pool, budget, student, PTS, loss and schedule; the
# demo pipeline has no photometric augmentation, so the one difference is
# replaying 10 stored crops per image (each seen about 3 times in 30 epochs)
# instead of 30 fresh ones. No validation: R^2 needs the teacher. Fixed
# before any of its fine-tunes ran.
_base_ = ['./kdep_mbv2-r18_pool-10pct.py']

train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='ReplayCachedCrop', scale=64),  # model.cache's crops
    dict(type='PackInputs', algorithm_keys=('kdep_target', )),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    _delete_=True,
    type='CachedKDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    cache='work_dirs/study/pretrain/cached10/cache',  # named once, here
    temperature=0.1,
    power=3,
    loss=dict(type='KDEPLoss', mode='mse', loss_weight=3.0),
    probe_size=64)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
train_cfg = dict(val_interval=1000)
