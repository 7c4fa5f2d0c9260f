# Study arm "KDEP pooled + dense from a target cache, 10%" (issue 25): the
# pooled + dense arm (kdep-pooled-dense_mbv2-r18_pool-10pct.py: pooled w = 3
# plus 1 per stage at strides 8, 16, 32) trained from a cache of R = 10 crops
# per image holding each crop's pooled projection and its projected teacher
# maps (built by tools/build_target_cache.py from that config before the
# run; the study points model.cache at it) instead of a fresh crop and a
# teacher forward per step. Same pool, budget, student, terms, weights, PTS
# and schedule; no teacher in memory. Fixed, with its comparison
# (cachedpd10 - pooleddense10, the pair cached10 - kdep10 makes for the
# pooled target), before any of its fine-tunes ran.
_base_ = ['./kdep-cached_mbv2-r18_pool-10pct.py']

model = dict(
    _delete_=True,
    type='KDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    cache='work_dirs/study/pretrain/cachedpd10/cache',  # named once, here
    terms=[
        dict(weight=3.0),
        dict(stride=8, weight=1.0),
        dict(stride=16, weight=1.0),
        dict(stride=32, weight=1.0),
    ],
    probe_size=64)
