# Study ablation "SVD without PTS, 10%": the same basis, the projected
# teacher feature as the target without power temperature scaling.
_base_ = ['./kdep_mbv2-r18_pool-10pct.py']

model = dict(align=dict(use_pts=False))
