"""Train the bimodal multitask policy (eq. 5) on the simulated dataset, on CPU.

Usage::

    exo_train --data data/exo_vic_v2 --out /tmp/policy [--epochs N] [--quick] [--threads N]
              [--reference-target {human,assist}] [--alphas 1[,0.5...]]

The default target (``--reference-target assist``, what ``make train`` trains and the shipped
default checkpoint is) is the bounded virtual equilibrium
``q_v = q_exo + clip(-tau_ext / k_int, +-max_lead)`` of the ``alpha = 0.5`` episodes: the
reference with which the impedance law reproduces the recorded assistance (docs/design.md,
"The default policy"). ``--reference-target human`` trains on the human's own reference (the
paper's literal formulation, every alpha unless ``--alphas`` says otherwise): the
evaluation's ablation.

Writes to ``--out``:

* ``policy.pt``: config, state_dict, normaliser, tokenizer, training metadata (torch);
* ``policy_meta.json``: the same minus the weights (what :mod:`exo_policy.runtime` needs);
* ``policy.onnx``: opset 17, inputs ``history`` (1, T, 2) float32 physical ``(q, qd)``
  (rad, rad/s, oldest first) and ``tokens`` (1, L) int64; outputs ``q_d`` (1,) rad and
  ``K`` (1,) N*m/rad (normalisation folded into the graph);
* ``metrics.json``: on the validation groups (trajectories never seen in training,
  :func:`exo_policy.dataset.split_episodes`): RMSE of q_d (rad) and of K (N*m/rad), the
  coefficient of determination R^2 of K and of q_d, and the RMSE of a hold baseline that
  predicts ``q_d = q_exo`` (``val_rmse_q_hold_baseline_rad``), overall and per task.

To refresh the shipped checkpoints, see ``test/test_shipped_checkpoints.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path
import random
import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from exo_contract.dataset import load_dataset
from exo_contract.tasks import TASKS
from exo_language.paraphrases import FILLERS_AFTER, FILLERS_BEFORE, training_texts
from exo_policy.configuration import PolicyConfig, quick_config, REFERENCE_TARGETS
from exo_policy.dataset import (
    columns_needed,
    episodes_from_table,
    fit_normalizer,
    REQUIRED_COLUMNS,
    split_episodes,
    WindowSet,
)
from exo_policy.modeling import ExoPolicy, export_onnx, PhysicalPolicy, policy_loss
from exo_policy.processing import Normalizer, WordTokenizer

CHECKPOINT_FORMAT = 1
MAX_VAL_WINDOWS = 50_000


def build_tokenizer(extra_texts: list[str], max_len: int) -> WordTokenizer:
    """Vocabulary of the task texts, aliases, training paraphrases, fillers and ``extra``."""
    texts = list(extra_texts) + list(FILLERS_BEFORE) + list(FILLERS_AFTER)
    for task in TASKS:
        texts += training_texts(task.task_id, task.text, task.aliases)
        texts += [task.name, task.task_id.replace('_', ' ')]
    return WordTokenizer.from_texts(texts, max_len)


def _to_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(np.ascontiguousarray(val)) for key, val in batch.items()}


@torch.no_grad()
def evaluate(model: ExoPolicy, windows: WindowSet, normalizer: Normalizer, w1: float,
             batch_size: int = 1024, max_windows: int = MAX_VAL_WINDOWS) -> dict[str, Any]:
    """Validation loss (eq. 5), RMSEs in physical units and R^2, overall and per task.

    ``val_r2_k`` / ``val_r2_q``: ``1 - SSE / SST`` of K / q_d over the validation windows
    (SST around their validation mean); the hold baseline predicts ``q_d = q_exo``.
    """
    model.eval()
    n = len(windows)
    index = np.arange(n)
    if n > max_windows:
        index = np.sort(np.random.default_rng(0).choice(n, max_windows, replace=False))
    sq_q = np.zeros(len(windows.task_ids))
    sq_k = np.zeros(len(windows.task_ids))
    count = np.zeros(len(windows.task_ids))
    sq_hold = 0.0
    loss_sum = 0.0
    k_true: list[np.ndarray] = []
    q_true: list[np.ndarray] = []
    for start in range(0, index.size, batch_size):
        b = _to_tensors(windows.batch(index[start:start + batch_size]))
        q_norm, k_norm = model(b['history'], b['tokens'])
        loss, _ = policy_loss(q_norm, k_norm, b['q'], b['k'], w1)
        loss_sum += float(loss) * q_norm.shape[0]
        err_q = (q_norm - b['q']).numpy() * normalizer.dq_std
        err_k = (k_norm - b['k']).numpy() * normalizer.k_scale
        task = b['task'].numpy()
        offset = b['q'].numpy().astype(float) * normalizer.dq_std + normalizer.dq_mean
        sq_hold += float(np.sum(offset ** 2))
        k_true.append(b['k'].numpy().astype(float) * normalizer.k_scale)
        q_true.append(offset + b['history'].numpy()[:, -1, 0].astype(float)
                      * normalizer.q_std + normalizer.q_mean)
        np.add.at(sq_q, task, err_q.astype(float) ** 2)
        np.add.at(sq_k, task, err_k.astype(float) ** 2)
        np.add.at(count, task, 1)
    total = max(count.sum(), 1)
    k_all = np.concatenate(k_true) if k_true else np.zeros(0)
    q_all = np.concatenate(q_true) if q_true else np.zeros(0)
    sst_k = float(np.sum((k_all - k_all.mean()) ** 2)) if k_all.size else 0.0
    sst_q = float(np.sum((q_all - q_all.mean()) ** 2)) if q_all.size else 0.0
    per_task = {tid: {'rmse_q_rad': float(math.sqrt(sq_q[i] / count[i])),
                      'rmse_k_nm_per_rad': float(math.sqrt(sq_k[i] / count[i])),
                      'windows': int(count[i])}
                for i, tid in enumerate(windows.task_ids) if count[i] > 0}
    return {'val_loss': loss_sum / total, 'val_rmse_q_rad': float(math.sqrt(sq_q.sum() / total)),
            'val_rmse_k_nm_per_rad': float(math.sqrt(sq_k.sum() / total)),
            'val_rmse_q_hold_baseline_rad': float(math.sqrt(sq_hold / total)),
            'val_r2_k': 1.0 - float(sq_k.sum()) / sst_k if sst_k > 0 else math.nan,
            'val_r2_q': 1.0 - float(sq_q.sum()) / sst_q if sst_q > 0 else math.nan,
            'val_windows': int(total), 'per_task': per_task}


def save_checkpoint(out_dir: Path, model: ExoPolicy, config: PolicyConfig,
                    normalizer: Normalizer, tokenizer: WordTokenizer,
                    metadata: dict[str, Any]) -> None:
    """Write ``policy.pt``, ``policy_meta.json`` and ``policy.onnx`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {'format': CHECKPOINT_FORMAT, 'config': config.to_dict(),
            'normalizer': normalizer.to_dict(), 'tokenizer': tokenizer.to_dict(),
            'metadata': metadata}
    state = {key: val.detach().clone() for key, val in model.state_dict().items()}
    torch.save({**meta, 'state_dict': state}, out_dir / 'policy.pt')
    (out_dir / 'policy_meta.json').write_text(json.dumps(meta, indent=1, sort_keys=True) + '\n')
    export_onnx(model, normalizer, str(out_dir / 'policy.onnx'))


def load_checkpoint(path: str | Path) -> tuple[ExoPolicy, PolicyConfig, Normalizer,
                                               WordTokenizer, dict[str, Any]]:
    """Load ``policy.pt`` (a file or its directory).

    Returns:
        model (eval mode), config, normaliser, tokenizer, metadata.

    """
    path = Path(path)
    if path.is_dir():
        path = path / 'policy.pt'
    data = torch.load(path, map_location='cpu', weights_only=True)
    if data.get('format') != CHECKPOINT_FORMAT:
        raise ValueError(f'{path}: checkpoint format {data.get("format")!r}, expected '
                         f'{CHECKPOINT_FORMAT}')
    config = PolicyConfig.from_dict(data['config'])
    tokenizer = WordTokenizer.from_dict(data['tokenizer'])
    model = ExoPolicy(config, tokenizer.vocab_size)
    model.load_state_dict(data['state_dict'])
    model.eval()
    return model, config, Normalizer.from_dict(data['normalizer']), tokenizer, data['metadata']


def _onnx_max_abs_diff(out_dir: Path, model: ExoPolicy, normalizer: Normalizer,
                       tokenizer: WordTokenizer, windows: WindowSet) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(out_dir / 'policy.onnx'),
                                   providers=['CPUExecutionProvider'])
    b = windows.batch(np.arange(min(len(windows), 64)))
    history = normalizer.denormalize_history(b['history'])
    ref = PhysicalPolicy(model, normalizer).eval()
    with torch.no_grad():
        q_t, k_t = ref(torch.from_numpy(history), torch.from_numpy(b['tokens']))
    q_o, k_o = session.run(None, {'history': history, 'tokens': b['tokens']})
    return float(max(np.max(np.abs(q_o - q_t.numpy())), np.max(np.abs(k_o - k_t.numpy()))))


def train(data_path: str | Path, out_dir: str | Path, config: PolicyConfig | None = None,
          progress: bool = True) -> dict[str, Any]:
    """Train on the step table at ``data_path``, write the checkpoint into ``out_dir``.

    Returns:
        The metrics written to ``metrics.json`` (validation RMSEs, loss history, timing).

    """
    config = config if config is not None else PolicyConfig()
    out_dir = Path(out_dir)
    start = time.perf_counter()
    torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    np_rng = np.random.default_rng(config.seed)

    extra = columns_needed(config.reference_target, config.train_alphas)
    table = load_dataset(data_path, REQUIRED_COLUMNS + extra)
    episodes = episodes_from_table(table, config.reference_target, config.train_alphas,
                                   config.max_lead)
    train_eps, val_eps = split_episodes(episodes, config.val_fraction, config.seed)
    if not train_eps or not val_eps:
        raise ValueError(f'need >= 2 exo episodes of a task to split, got {len(episodes)}')
    normalizer = fit_normalizer(train_eps, config.stiffness_scale)
    tokenizer = build_tokenizer([e.text for e in episodes], config.max_text_tokens)
    train_set = WindowSet(train_eps, config, normalizer, tokenizer, augment=True,
                          stride=config.window_stride)
    val_set = WindowSet(val_eps, config, normalizer, tokenizer)
    model = ExoPolicy(config, tokenizer.vocab_size, normalizer.k_mean / normalizer.k_scale)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    per_epoch = len(train_set) if config.max_train_windows == 0 else min(
        len(train_set), config.max_train_windows)
    steps_per_epoch = max(1, math.ceil(per_epoch / config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch,
        pct_start=0.1)
    history: list[dict[str, float]] = []
    best = (math.inf, -1, copy.deepcopy(model.state_dict()))
    first_train_loss = None
    for epoch in range(config.epochs):
        model.train()
        order = np_rng.permutation(len(train_set))[:per_epoch]
        bar = tqdm(range(steps_per_epoch), desc=f'epoch {epoch + 1}/{config.epochs}',
                   unit='batch', disable=not progress, leave=False)
        running = 0.0
        for step in bar:
            b = _to_tensors(train_set.batch(
                order[step * config.batch_size:(step + 1) * config.batch_size], rng))
            q_norm, k_norm = model(b['history'], b['tokens'])
            loss, _ = policy_loss(q_norm, k_norm, b['q'], b['k'], config.loss_weight_k)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            running += float(loss.detach())
            if first_train_loss is None:
                first_train_loss = float(loss.detach())
            bar.set_postfix(loss=f'{running / (step + 1):.4f}')
        val = evaluate(model, val_set, normalizer, config.loss_weight_k)
        row = {'epoch': epoch + 1, 'train_loss': running / steps_per_epoch,
               'val_loss': val['val_loss'], 'val_rmse_q_rad': val['val_rmse_q_rad'],
               'val_rmse_k_nm_per_rad': val['val_rmse_k_nm_per_rad']}
        history.append(row)
        if progress:
            tqdm.write(f'epoch {epoch + 1}: train {row["train_loss"]:.4f}  val '
                       f'{val["val_loss"]:.4f}  rmse q {val["val_rmse_q_rad"]:.4f} rad  K '
                       f'{val["val_rmse_k_nm_per_rad"]:.2f} N*m/rad')
        if val['val_loss'] < best[0]:
            best = (val['val_loss'], epoch + 1, copy.deepcopy(model.state_dict()))
        elif epoch + 1 - best[1] >= config.patience:
            break
    model.load_state_dict(best[2])
    model.eval()
    val = evaluate(model, val_set, normalizer, config.loss_weight_k)
    wall = time.perf_counter() - start
    metadata = {'data_path': str(data_path), 'best_epoch': best[1],
                'reference_target': config.reference_target,
                'train_alphas': [float(a) for a in config.train_alphas],
                'max_lead': config.max_lead,
                'train_episodes': len(train_eps), 'val_episodes': len(val_eps),
                'val_episode_ids': sorted(e.episode for e in val_eps),
                'split': 'group', 'val_groups': sorted({e.group for e in val_eps}),
                'train_windows': len(train_set), 'torch': str(torch.__version__),
                'created_unix': int(time.time())}
    save_checkpoint(out_dir, model, config, normalizer, tokenizer, metadata)
    metrics = {**val, 'first_train_loss': first_train_loss, 'history': history,
               'best_epoch': best[1], 'train_wall_s': wall,
               'onnx_max_abs_diff': _onnx_max_abs_diff(out_dir, model, normalizer, tokenizer,
                                                       val_set),
               'parameters': int(sum(p.numel() for p in model.parameters())),
               'checkpoint_bytes': {f.name: f.stat().st_size for f in out_dir.iterdir()
                                    if f.name.startswith('policy')}}
    (out_dir / 'metrics.json').write_text(json.dumps(metrics, indent=1) + '\n')
    return metrics


def parse_alphas(text: str) -> tuple[float, ...]:
    """``'all'`` -> (); ``'1,0.5'`` -> (1.0, 0.5). Raises ValueError (quoted) otherwise."""
    if text.strip().lower() == 'all':
        return ()
    try:
        values = tuple(float(v) for v in text.split(',') if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise ValueError(f"--alphas must be 'all' or comma-separated numbers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_train``."""
    parser = argparse.ArgumentParser(prog='exo_train', description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, required=True,
                        help='dataset directory (steps.parquet) or the parquet file')
    parser.add_argument('--out', type=Path, required=True, help='output directory')
    parser.add_argument('--epochs', type=int, default=None, help='override the epoch count')
    parser.add_argument('--quick', action='store_true', help='tiny model, few windows (smoke)')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads')
    parser.add_argument('--config', type=Path, default=None, help='PolicyConfig JSON file')
    parser.add_argument('--reference-target', choices=REFERENCE_TARGETS, default=None,
                        help="angle target: 'assist' (default: bounded virtual equilibrium "
                             "q_exo - tau_ext / k_int) or 'human' (q_ref; the paper's literal "
                             'formulation, an ablation)')
    parser.add_argument('--alphas', default=None,
                        help="comma-separated eq. 3 alphas to train on, or 'all' (default: "
                             "0.5 for 'assist', all for 'human')")
    opts = parser.parse_args(argv)
    config = (PolicyConfig.load(opts.config) if opts.config is not None
              else quick_config() if opts.quick else PolicyConfig())
    overrides: dict[str, Any] = {}
    if opts.epochs is not None:
        overrides['epochs'] = opts.epochs
    if opts.threads is not None:
        overrides['num_threads'] = opts.threads
    if opts.reference_target is not None:
        overrides['reference_target'] = opts.reference_target
    if opts.alphas is not None:
        try:
            overrides['train_alphas'] = parse_alphas(opts.alphas)
        except ValueError as exc:
            parser.error(str(exc))
    elif opts.reference_target == 'human':
        overrides['train_alphas'] = ()
    if overrides:
        try:
            config = PolicyConfig.from_dict({**config.to_dict(), **overrides})
        except ValueError as exc:
            parser.error(str(exc))
    start = time.perf_counter()
    metrics = train(opts.data, opts.out, config)
    print(f'val RMSE q_d {metrics["val_rmse_q_rad"]:.4f} rad (hold baseline '
          f'{metrics["val_rmse_q_hold_baseline_rad"]:.4f}), K '
          f'{metrics["val_rmse_k_nm_per_rad"]:.2f} N*m/rad, R^2 K {metrics["val_r2_k"]:.3f} '
          f'(best epoch {metrics["best_epoch"]})')
    print(f'wrote {opts.out}; wall time {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
