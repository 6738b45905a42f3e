"""Figures of a recorded exo-vic run (matplotlib, Agg backend, no rclpy).

:func:`write_plots` writes one PNG per task of a summary (three stacked axes: joint angles,
stiffness before and after the eq. 13 bound, commanded and interaction torque) and an
overview of the whole recording with the active task windows shaded.
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any, Dict, List, Optional, Tuple, Union

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from exo_experiments.analysis import load_recording, PathLike, Recording  # noqa: E402

__all__ = ['plot_overview', 'plot_task', 'write_plots']


def _slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', text).strip('_') or 'task'


def _window(rec: Recording, t_ns: np.ndarray, values: np.ndarray,
            span: Optional[Tuple[float, float]]) -> Tuple[np.ndarray, np.ndarray]:
    t = rec.seconds(t_ns)
    if span is None or len(t) == 0:
        return t, values
    mask = (t >= span[0]) & (t <= span[1])
    return t[mask], values[mask]


def _draw(rec: Recording, axes: Any, span: Optional[Tuple[float, float]]) -> None:
    ax_angle, ax_stiffness, ax_torque = axes
    series = [
        (ax_angle, rec.control_t, rec.control_reference, 'reference (policy)', '-'),
        (ax_angle, rec.human_t, rec.human_reference, 'reference (ground truth)', '--'),
        (ax_angle, rec.joint_t, rec.exo_angle, 'exo angle', '-'),
        (ax_angle, rec.human_t, rec.human_angle, 'human angle', ':'),
        (ax_stiffness, rec.control_t, rec.control_stiffness_raw, 'stiffness raw', '--'),
        (ax_stiffness, rec.control_t, rec.control_stiffness_bounded, 'stiffness bounded',
         '-'),
        (ax_torque, rec.command_t, rec.command_first, 'commanded torque', '-'),
        (ax_torque, rec.interaction_t, rec.interaction_torque, 'interaction torque', '-'),
    ]
    if not len(rec.control_t) and len(rec.impedance_t):
        series[0] = (ax_angle, rec.impedance_t, rec.impedance_reference,
                     'reference (policy)', '-')
        series[4] = (ax_stiffness, rec.impedance_t, rec.impedance_stiffness,
                     'stiffness raw', '--')
    for ax, t_ns, values, label, style in series:
        t, v = _window(rec, t_ns, values, span)
        if len(t):
            ax.plot(t, v, style, label=label, linewidth=1.0)
    ax_angle.set_ylabel('angle (rad)')
    ax_stiffness.set_ylabel('K (N m/rad)')
    ax_torque.set_ylabel('torque (N m)')
    ax_torque.set_xlabel('time since start of recording (s)')
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc='upper right', fontsize='small')


def _save(fig: Any, path: PathLike) -> Path:
    """Lay out ``fig`` and write it to ``path`` (PNG, 100 dpi); the caller closes it."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def _format_rmse(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value:.4f} rad'


def plot_task(rec: Recording, task: Dict[str, Any], path: PathLike) -> Path:
    """Write the figure of one task of a summary (``summary['tasks'][i]``) to ``path``."""
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    try:
        span = None
        if task.get('start_s') is not None:
            span = (float(task['start_s']), float(task['end_s']))
        _draw(rec, axes, span)
        title = f"{task.get('name', 'task')}: RMSE {_format_rmse(task.get('rmse_rad'))}"
        if task.get('rmse_vs_policy_rad') is not None:
            title += f" (vs policy {_format_rmse(task['rmse_vs_policy_rad'])})"
        if task.get('text'):
            title += f"\n'{task['text']}'"
        fig.suptitle(title)
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_overview(rec: Recording, summary: Dict[str, Any], path: PathLike) -> Path:
    """Write the figure of the whole recording, task windows shaded, to ``path``."""
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(14, 8))
    try:
        _draw(rec, axes, None)
        for task in summary.get('tasks', []):
            if task.get('start_s') is None:
                continue
            for ax in axes:
                ax.axvspan(task['start_s'], task['end_s'], color='tab:green', alpha=0.08)
            axes[0].annotate(task.get('name', ''), (task['start_s'], 1.0),
                             xycoords=('data', 'axes fraction'), va='top', fontsize='small')
        violations = summary.get('stiffness_rate_violations_total', 0)
        fig.suptitle(f"{rec.path.name}: {len(summary.get('tasks', []))} tasks, "
                     f"{summary.get('duration_s', 0.0):.1f} s, "
                     f'{violations} stiffness-rate violations')
        return _save(fig, path)
    finally:
        plt.close(fig)


def write_plots(mcap_path: Union[PathLike, Recording], out_dir: PathLike,
                summary: Dict[str, Any]) -> List[Path]:
    """Write ``overview.png`` and ``task_NN_<name>.png`` per task into ``out_dir``.

    ``summary`` is the output of :func:`exo_experiments.analysis.summarize` for the same
    recording. Returns the paths written, overview first.
    """
    rec = mcap_path if isinstance(mcap_path, Recording) else load_recording(mcap_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [plot_overview(rec, summary, out / 'overview.png')]
    for index, task in enumerate(summary.get('tasks', [])):
        name = _slug(str(task.get('name', 'task')))
        paths.append(plot_task(rec, task, out / f'task_{index:02d}_{name}.png'))
    return paths
