"""Linear-probe readouts: what the pre-training itself put in the features.

Fine-tuning every layer for a few epochs washes out much of what a
pre-training learned, and its seed noise is as large as the differences
between arms. A linear probe reads the frozen student instead: its pooled
features of each image (the fine-tune config's test pipeline, no
augmentation) feed an L2-regularised multinomial logistic regression; the
regularisation strength is chosen on val, and the chosen probe is reported
on test. The fit is a convex problem solved to convergence (L-BFGS, float64)
on standardised features, so a probe has no seed: its number depends only
on the features.

The scratch arm's features are those of a random network; both values of
``zero_init_residual`` are in its grid, chosen on val like the strength.
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch

from .. import ROOT
from ..finetune import TASKS, dump_json, load_json, task_config

#: L2 strengths tried (fixed before any probe was run).
PROBE_L2 = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
#: The tasks that are read out with a linear probe.
PROBE_TASKS = ('cls', 'mnist')
#: The spatial readout (:mod:`demo.study.spatial`), run with the ``seg``
#: task.
SPATIAL = 'spatial'


def probe_tasks(tasks: Sequence[str]) -> list:
    """The probes a study with ``tasks`` runs: the linear probes of its
    classification tasks, and the spatial readout with ``seg``."""
    return [t for t in PROBE_TASKS if t in tasks] + \
        ([SPATIAL] if 'seg' in tasks else [])


def probe_label(task: str) -> str:
    return 'glyphs: spatial probe mIoU' if task == SPATIAL else \
        f"{TASKS[task]['data']}: linear probe"


def fit_linear(x: torch.Tensor,
               y: torch.Tensor,
               l2: float,
               classes: int,
               class_weight: Optional[torch.Tensor] = None,
               max_iter: int = 500):
    """A multinomial logistic regression on standardised features, fitted
    to convergence (L-BFGS, float64); returns ``predict(features) ->
    labels``.

    Args:
        x, y: Features ``(N, D)`` and integer labels ``(N, )``.
        l2 (float): Weight of ``0.5 * ||W||^2`` added to the mean
            cross-entropy (the bias is not penalised).
        classes (int): Number of classes.
        class_weight (Tensor, optional): Per-class weights of the
            cross-entropy (a class-balanced readout).
        max_iter (int): L-BFGS iterations at most.
    """
    x = x.double()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
    x = (x - mean) / std
    weight = torch.zeros(
        x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias],
                            max_iter=max_iter,
                            tolerance_grad=1e-9,
                            tolerance_change=1e-12,
                            history_size=20,
                            line_search_fn='strong_wolfe')
    cw = None if class_weight is None else class_weight.double()

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            x @ weight + bias, y, weight=cw) + 0.5 * l2 * (weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)

    @torch.no_grad()
    def predict(fx: torch.Tensor) -> torch.Tensor:
        return (((fx.double() - mean) / std) @ weight + bias).argmax(1)

    return predict


def fit_probe(train: Tuple[torch.Tensor, torch.Tensor],
              evals: Sequence[Tuple[torch.Tensor, torch.Tensor]],
              l2: float,
              max_iter: int = 500) -> Sequence[float]:
    """Fit a logistic-regression probe (:func:`fit_linear`); return its
    accuracy (%) on each of ``evals``."""
    x, y = train
    classes = int(max(int(y.max()), *(int(v.max()) for _, v in evals))) + 1
    predict = fit_linear(x, y, l2, classes, max_iter=max_iter)
    return [
        100.0 * (predict(fx) == fy).double().mean().item() for fx, fy in evals
    ]


def select_probe(runs: Dict[str, Dict]) -> str:
    """The grid point with the best val accuracy (ties: the stronger L2,
    then ``zero_init_residual`` False)."""
    order = sorted(
        runs, key=lambda k: (-runs[k]['l2'], runs[k]['zir'] is True))
    return max(order, key=lambda k: runs[k]['val'])


@torch.no_grad()
def extract_features(task: str,
                     checkpoint: Optional[str],
                     zero_init_residual: Optional[bool] = None,
                     limit: Optional[int] = None,
                     seed: int = 0) -> Dict[str, Tuple]:
    """Pooled features and labels of the train / val / test splits of a
    classification task, from the frozen backbone of its fine-tune config.

    Args:
        task (str): A key of :data:`demo.finetune.TASKS` (a classification
            task).
        checkpoint (str, optional): The pre-trained student (None: the
            scratch config's random initialisation).
        zero_init_residual (bool, optional): For the random backbone.
        limit (int, optional): Use the first ``limit`` images of each split
            (a smoke test).
        seed (int): The random initialisation's seed (a pre-trained
            backbone loads every weight).
    """
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS

    import kdep_mm  # noqa: F401  (registers StrictPretrained)
    cfg = Config.fromfile(task_config(TASKS[task], checkpoint is not None))
    if checkpoint is not None:
        cfg.model.backbone.init_cfg.checkpoint = checkpoint
    if zero_init_residual is not None:
        cfg.model.backbone.zero_init_residual = zero_init_residual
    torch.manual_seed(seed)
    # the current logger: quiet about every initialised parameter
    MMLogger.get_instance('kdep_probe', log_level='WARNING')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.eval()
        splits = {}
        for split, loader in (('train', 'train_dataloader'),
                              ('val', 'val_dataloader'), ('test',
                                                          'test_dataloader')):
            ds = cfg[loader].dataset.copy()
            ds.pipeline = cfg.test_dataloader.dataset.pipeline
            if not osp.isabs(ds.data_root):
                ds.data_root = osp.join(ROOT, ds.data_root)
            if not osp.isabs(ds.classes):
                ds.classes = osp.join(ROOT, ds.classes)
            if limit:
                ds.indices = limit
            dataloader = Runner.build_dataloader(
                dict(
                    batch_size=128,
                    num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=ds))
            feats, labels = [], []
            for data in dataloader:
                data = model.data_preprocessor(data, False)
                feats.append(model.extract_feat(data['inputs'])[-1])
                labels += [s.gt_label.item() for s in data['data_samples']]
            splits[split] = (torch.cat(feats), torch.tensor(labels))
    return splits


def probe(task: str,
          checkpoint: Optional[str],
          inits: Sequence[Optional[bool]] = (None, ),
          l2_grid: Sequence[float] = PROBE_L2,
          limit: Optional[int] = None,
          seed: int = 0) -> Dict:
    """Every grid point's val and test accuracy, the one val chose, and
    whether it sits on an edge of the L2 grid (``edge``: 'low' / 'high' /
    None; a choice on an edge may want a wider grid)."""
    runs = {}
    for zir in inits:
        splits = extract_features(task, checkpoint, zir, limit, seed)
        for l2 in l2_grid:
            val, test = fit_probe(splits['train'],
                                  [splits['val'], splits['test']], l2)
            key = f'l2{l2:g}' + ('' if zir is None else f'_zir{int(zir)}')
            runs[key] = dict(l2=l2, zir=zir, val=val, test=test)
    chosen = select_probe(runs)
    return dict(
        task=task,
        seed=seed,
        edge=grid_edge(runs[chosen]['l2'], l2_grid),
        grid=runs,
        chosen=chosen,
        val=runs[chosen]['val'],
        test=runs[chosen]['test'],
        dims=int(splits['train'][0].shape[1]))


def grid_edge(value: float, grid: Sequence[float]) -> Optional[str]:
    """'low' / 'high' when ``value`` is the grid's smallest / largest."""
    if value == min(grid):
        return 'low'
    return 'high' if value == max(grid) else None


def probe_file(args, task: str, arm: str, seed: int = 0) -> str:
    """``<arm>.json`` (pre-training seed 0), ``<arm>_p<seed>.json``."""
    name = arm if seed == 0 else f'{arm}_p{seed}'
    return osp.join(args.results_dir, 'probe', task, f'{name}.json')


def probe_all(args, arms, pre: Dict[str, Dict[int, Optional[Dict]]]) -> None:
    """Probe every arm's student of every pre-training seed on every probe
    task (finished ones are kept; scratch: a random network per seed)."""
    from .arms import banner
    from .design import SCRATCH_INITS
    for seed in args.seeds:
        for task in probe_tasks(args.tasks):
            for arm in arms:
                out = probe_file(args, task, arm['name'], seed)
                if osp.exists(out):
                    continue
                p = (pre.get(arm['name']) or {}).get(seed)
                if arm['config'] is not None and not (p
                                                      or {}).get('checkpoint'):
                    continue  # not pre-trained here yet
                args.check_time()
                banner(f"probe ({task}): {arm['name']}, seed {seed}")
                run = probe
                if task == SPATIAL:
                    from .spatial import probe_spatial as run
                res = run(
                    task,
                    p['checkpoint'] if p else None,
                    inits=SCRATCH_INITS if p is None else (None, ),
                    limit=64 if args.quick else None,
                    seed=seed)
                dump_json(res, out)
                print(f"{arm['name']}: probe val {res['val']:.2f}, test "
                      f"{res['test']:.2f} ({res['chosen']})")


def collect_probe(args, task: str, arm: str) -> Dict[int, Dict]:
    """The finished probes of an arm, by pre-training seed (older files
    lack ``edge``: computed from their grid)."""
    out = {}
    for seed in args.seeds:
        f = probe_file(args, task, arm, seed)
        if osp.exists(f):
            res = load_json(f)
            grid = sorted({r['l2'] for r in res['grid'].values()})
            res['edge'] = grid_edge(res['grid'][res['chosen']]['l2'], grid)
            out[seed] = res
    return out
