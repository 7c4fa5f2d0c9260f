# Study arm "KDEP dense only, 10%" (issue 14): as the pooled + dense arm
# without the pooled target; the three dense terms weigh 1 each (together
# the pooled arm's w = 3).
_base_ = ['./kdep-pooled-dense_mbv2-r18_pool-10pct.py']

model = dict(pooled=False)
