"""The metabolic trial from its recording: EE curve, EC (eq. 16), Fig. 6 (no rclpy).

``exo_trial`` records one condition of the paper's metabolic experiment (section V-B:
natural movement, ProMP, the proposed policy; a repetitive lift) into an MCAP file; this
module computes, from the recording alone,

* the breath-by-breath EE (eq. 15) of the recorded ``/exo/gas_exchange`` messages (header
  stamps, relative to the trial start), its moving average (what ``metabolic_node``
  publishes) and EC (eq. 16) over the steady-state window, with the very same core as the
  node (:class:`exo_metabolic.gas_exchange.MetabolicEstimator`);
* what the node published (``/exo/energy_expenditure``) for comparison;
* in simulation, the modelled muscle energy over the window (the integral of sim_node's
  ``/exo/metabolic_power``): the noise-free part of what the simulated analyser breathes;
* the number of task cycles sent (the paper counts box transfers);

and draws one trial (:func:`plot_trial`) or the comparison of several (:func:`plot_fig6`:
EE curves per condition with the window shaded, EC bars with the reduction against natural
movement) with its table (:func:`comparison_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from exo_contract.metabolics import reduction_pct
from exo_contract.topics import (
    ENERGY_EXPENDITURE_TOPIC,
    GAS_EXCHANGE_TOPIC,
    METABOLIC_POWER_TOPIC,
    TASK_TEXT_TOPIC,
)
from exo_experiments.mcap_io import iter_decoded
from exo_metabolic.gas_exchange import Breath, MetabolicEstimator, MetabolicParams

#: Conditions of the paper's metabolic experiment (section V-B), in its order, then the
#: strongest simple baseline: a share of the forearm + hand + payload gravity torque at a fixed
#: stiffness (policy_node mode gravity_share, exo_policy.baselines).
CONDITIONS = ('natural', 'promp', 'learned', 'gravity_share')
LABELS = {'natural': 'natural (no assistance)', 'promp': 'ProMP',
          'learned': 'proposed (learned policy)',
          'gravity_share': 'gravity share (baseline)'}
COLORS = {'natural': '#7f7f7f', 'promp': '#1f77b4', 'learned': '#d62728',
          'gravity_share': '#2ca02c'}
#: Start of the eq. 16 window as a fraction of the trial (3 min of the paper's 10 min).
STEADY_START_FRACTION = 0.3
TRIAL_SCHEMA_VERSION = 1


def default_window(duration_s: float) -> tuple[float, float]:
    """Eq. 16 window [0.3 T, T] of a trial of T seconds ([180, 600] s for 10 minutes)."""
    return STEADY_START_FRACTION * duration_s, float(duration_s)


def _seconds(stamp: Any) -> float:
    return int(stamp.sec) + int(stamp.nanosec) * 1e-9


@dataclass
class TrialStreams:
    """The metabolic streams of one recording (times in s since the trial start)."""

    start_ns: int
    breaths: list[Breath] = field(default_factory=list)
    breath_sources: set[str] = field(default_factory=set)
    node_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    node_ee: np.ndarray = field(default_factory=lambda: np.zeros(0))
    muscle_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    muscle_power: np.ndarray = field(default_factory=lambda: np.zeros(0))
    text_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    texts: list[str] = field(default_factory=list)


def load_streams(recording: str | Path, start_ns: int | None = None,
                 cycle_starts_s: list[float] | None = None) -> TrialStreams:
    """Read the metabolic streams of ``recording``.

    Times are header stamps on the graph's clock (simulated time in lockstep, else the
    system clock) minus the trial start ``start_ns`` (``trial.json``): the analyser's
    breath ends, the node's EE, sim_node's muscle power. ``cycle_starts_s`` are the task
    texts' times as sent (``trial.json``); without them the texts' log times relative to
    the first text. Without ``start_ns`` the trial starts with the first ``/task_text``
    (its log time carried over to the stamps' clock by the first breath's stamp - log time
    offset).
    """
    wanted = [GAS_EXCHANGE_TOPIC, ENERGY_EXPENDITURE_TOPIC, METABOLIC_POWER_TOPIC,
              TASK_TEXT_TOPIC]
    raw: dict[str, list] = {k: [] for k in wanted}
    for topic, log_ns, msg in iter_decoded(recording, topics=wanted):
        raw[topic].append((log_ns, msg))
    texts = raw[TASK_TEXT_TOPIC]
    if start_ns is None:
        offset = 0
        for log_ns, msg in raw[GAS_EXCHANGE_TOPIC][:1]:
            stamp = msg.header.stamp
            offset = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec) - log_ns
        first = texts[0][0] if texts else min(
            (log for topic in wanted for log, _ in raw[topic][:1]), default=0)
        start_ns = first + offset
    t0 = start_ns * 1e-9
    s = TrialStreams(start_ns=int(start_ns))
    for _, msg in raw[GAS_EXCHANGE_TOPIC]:
        s.breaths.append(Breath(_seconds(msg.header.stamp) - t0, float(msg.vo2_ml_per_s),
                                float(msg.vco2_ml_per_s), float(msg.breath_duration)))
        s.breath_sources.add(str(msg.source))
    ee = raw[ENERGY_EXPENDITURE_TOPIC]
    s.node_t = np.array([_seconds(m.header.stamp) - t0 for _, m in ee])
    s.node_ee = np.array([float(m.power_per_kg) for _, m in ee])
    muscle = raw[METABOLIC_POWER_TOPIC]
    s.muscle_t = np.array([_seconds(m.header.stamp) - t0 for _, m in muscle])
    s.muscle_power = np.array([float(m.power) for _, m in muscle])
    if cycle_starts_s is not None:
        s.text_t = np.asarray(cycle_starts_s, dtype=float)
    elif texts:
        s.text_t = np.array([(ns - texts[0][0]) * 1e-9 for ns, _ in texts])
    s.texts = [str(m.data) for _, m in texts]
    return s


def analyse(streams: TrialStreams, body_mass_kg: float, window: tuple[float, float],
            smoothing_window_s: float = 30.0, duration_s: float | None = None) -> dict:
    """EC (eq. 16) and EE curves of one trial; a JSON-ready dict.

    Keys: ``ec_j``/``ec_kj``/``complete``/``covered_s``/``mean_ee_w_per_kg`` (eq. 16 over
    ``window`` from the recorded breaths), ``breaths``, ``rejected`` (invalid breaths),
    ``cycles`` (task texts sent during the trial), ``muscle_energy_j`` (simulation only:
    integral of the modelled muscle power over the window, else None), and ``curves``:
    ``breath`` (t, EE of each breath), ``smoothed`` (t, moving average), ``node`` (t, the
    EE metabolic_node published) and ``muscle`` (1 s means of the modelled muscle power, W);
    ``cycle_starts_s`` (when each task text went out).
    """
    params = MetabolicParams(body_mass_kg=body_mass_kg, smoothing_window_s=smoothing_window_s,
                             steady_start_s=window[0], steady_end_s=window[1])
    est = MetabolicEstimator(params, start=0.0)
    smoothed_t, smoothed = [], []
    breath_t, breath_ee = [], []
    for b in streams.breaths:
        estimate, _ = est.add(b)
        if estimate is not None:
            smoothed_t.append(estimate.t)
            smoothed.append(estimate.ee)
            breath_t.append(estimate.t)
            breath_ee.append(estimate.ee_breath)
    report = est.energy().to_dict()
    muscle = None
    t, p = streams.muscle_t, streams.muscle_power
    inside = (t >= window[0]) & (t <= window[1]) & np.isfinite(p)
    if np.count_nonzero(inside) >= 2:
        muscle = float(np.trapezoid(p[inside], t[inside]))
    end = duration_s if duration_s is not None else math.inf
    sent = (streams.text_t >= -1.0) & (streams.text_t < end)
    cycles = int(np.count_nonzero(sent))
    # Muscle power in 1 s bins (for the plot).
    bins_t, bins_p = [], []
    if t.size:
        finite = np.isfinite(p)
        index = np.floor(t[finite]).astype(int)
        for k in np.unique(index):
            bins_t.append(float(k) + 0.5)
            bins_p.append(float(p[finite][index == k].mean()))
    return {
        'ec_j': report['ec_j'], 'ec_kj': report['ec_kj'], 'complete': report['complete'],
        'window_s': list(window), 'covered_s': report['covered_s'],
        'mean_ee_w_per_kg': report['mean_ee_w_per_kg'], 'breaths': len(streams.breaths),
        'breaths_in_window': report['breaths_in_window'], 'rejected': report['rejected'],
        'breath_sources': sorted(streams.breath_sources), 'cycles': cycles,
        'muscle_energy_j': muscle, 'smoothing_window_s': smoothing_window_s,
        'curves': {
            'breath': {'t_s': breath_t, 'ee_w_per_kg': breath_ee},
            'smoothed': {'t_s': smoothed_t, 'ee_w_per_kg': smoothed},
            'node': {'t_s': streams.node_t.tolist(), 'ee_w_per_kg': streams.node_ee.tolist()},
            'muscle': {'t_s': bins_t, 'power_w': bins_p},
        },
        'cycle_starts_s': streams.text_t[sent].tolist(),
    }


def load_trial(trial_dir: str | Path, window: tuple[float, float] | None = None) -> dict:
    """``trial.json`` of ``trial_dir`` with its analysis recomputed from its recording.

    ``window`` overrides the trial's eq. 16 window.
    """
    trial_dir = Path(trial_dir)
    meta_path = trial_dir / 'trial.json' if trial_dir.is_dir() else trial_dir
    meta = json.loads(meta_path.read_text())
    recording = meta_path.parent / meta.get('recording', 'recording')
    win = tuple(window) if window is not None else tuple(meta['analysis']['window_s'])
    streams = load_streams(recording, meta.get('start_ns'), meta.get('cycle_starts_s'))
    meta['analysis'] = analyse(streams, meta['body_mass_kg'], win,
                               meta['analysis'].get('smoothing_window_s', 30.0),
                               meta.get('duration_s'))
    meta['dir'] = str(meta_path.parent)
    return meta


def comparison_table(trials: list[dict]) -> list[dict]:
    """One row per trial: condition, EC kJ, reduction vs natural %, mean EE, cycles, ...

    The reference is the first 'natural' trial (none: no reductions).
    """
    reference = next((t['analysis']['ec_j'] for t in trials if t['condition'] == 'natural'),
                     None)
    rows = []
    for t in trials:
        a = t['analysis']
        rows.append({
            'condition': t['condition'], 'label': t.get('label', t['condition']),
            'body_mass_kg': t['body_mass_kg'], 'duration_s': t.get('duration_s'),
            'window_s': a['window_s'], 'complete': a['complete'], 'ec_kj': a['ec_kj'],
            'reduction_pct': reduction_pct(a['ec_j'], reference),
            'mean_ee_w_per_kg': a['mean_ee_w_per_kg'], 'cycles': a['cycles'],
            'breaths_in_window': a['breaths_in_window'],
            'muscle_energy_kj': None if a['muscle_energy_j'] is None
            else a['muscle_energy_j'] / 1000.0,
        })
    return rows


def format_table(rows: list[dict]) -> str:
    """The comparison as a Markdown table."""
    def f(v: Any, fmt: str) -> str:
        return '-' if v is None else format(v, fmt)
    lines = ['| condition | EC (kJ) | reduction vs natural | mean EE (W/kg) | cycles | '
             'breaths in window | window (s) | model muscle energy (kJ) |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        win = f'{r["window_s"][0]:.0f}-{r["window_s"][1]:.0f}' + (
            '' if r['complete'] else ' (partial)')
        red = '-' if r['reduction_pct'] is None else f'{r["reduction_pct"]:+.1f} %'
        lines.append(f'| {r["label"]} | {f(r["ec_kj"], ".3f")} | {red} | '
                     f'{f(r["mean_ee_w_per_kg"], ".3f")} | {r["cycles"]} | '
                     f'{r["breaths_in_window"]} | {win} | {f(r["muscle_energy_kj"], ".4f")} |')
    return '\n'.join(lines)


def _plt():
    import matplotlib  # noqa: PLC0415
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # noqa: PLC0415
    return plt


def plot_trial(trial: dict, path: str | Path) -> Path:
    """One trial: breath-by-breath EE, moving average, node output; muscle power below."""
    plt = _plt()
    a = trial['analysis']
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True,
                                  gridspec_kw={'height_ratios': [2, 1]})
    c = a['curves']
    ax.plot(c['breath']['t_s'], c['breath']['ee_w_per_kg'], '.', color='0.6', markersize=4,
            label='breath by breath (eq. 15)')
    ax.plot(c['smoothed']['t_s'], c['smoothed']['ee_w_per_kg'], '-',
            color=COLORS.get(trial['condition'], 'k'),
            label=f'moving average {a["smoothing_window_s"]:g} s')
    if c['node']['t_s']:
        ax.plot(c['node']['t_s'], c['node']['ee_w_per_kg'], '--', color='k', linewidth=0.8,
                label='metabolic_node output')
    ax.axvspan(*a['window_s'], color='0.9', zorder=0, label='eq. 16 window')
    ec = '-' if a['ec_kj'] is None else f'{a["ec_kj"]:.3f} kJ'
    ax.set_title(f'{LABELS.get(trial["condition"], trial["condition"])}: EC {ec}, '
                 f'{a["cycles"]} cycles, {trial["body_mass_kg"]:g} kg', fontsize=10)
    ax.set_ylabel('EE (W/kg)')
    ax.legend(fontsize='small', loc='lower right')
    ax.grid(True, alpha=0.3)
    muscle = c['muscle']
    if muscle['t_s']:
        ax2.plot(muscle['t_s'], muscle['power_w'], color='tab:orange', linewidth=0.8)
    ax2.set_ylabel('model muscle\npower (W)')
    end = trial.get('duration_s') or a['window_s'][1]
    ax2.set_xlim(-max(10.0, 0.1 * end), end)  # the trial, after a glimpse of the rest before
    ax2.set_xlabel('time since trial start (s)')
    ax2.grid(True, alpha=0.3)
    for t in a['cycle_starts_s']:
        ax2.axvline(t, color='0.7', linewidth=0.5)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_fig6(trials: list[dict], rows: list[dict], path: str | Path) -> Path:
    """Fig. 6: EE (moving average) per condition over the trial, and EC bars."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4),
                                  gridspec_kw={'width_ratios': [2.2, 1]})
    for t in trials:
        s = t['analysis']['curves']['smoothed']
        minutes = np.asarray(s['t_s']) / 60.0
        ax.plot(minutes, s['ee_w_per_kg'], color=COLORS.get(t['condition']),
                label=t.get('label', t['condition']))
    if trials:
        w = trials[0]['analysis']['window_s']
        ax.axvspan(w[0] / 60.0, w[1] / 60.0, color='0.92', zorder=0, label='eq. 16 window')
        end = max(t.get('duration_s') or t['analysis']['window_s'][1] for t in trials)
        ax.set_xlim(-max(10.0, 0.1 * end) / 60.0, end / 60.0)  # the trials and a bit before
    ax.set_xlabel('time (min)')
    ax.set_ylabel('EE (W/kg)')
    ax.set_title('Metabolic energy expenditure (Fig. 6 style)', fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='small')
    x = np.arange(len(rows))
    ec = [r['ec_kj'] if r['ec_kj'] is not None else 0.0 for r in rows]
    ax2.bar(x, ec, color=[COLORS.get(r['condition'], 'k') for r in rows])
    for i, r in enumerate(rows):
        text = f'{ec[i]:.2f} kJ'
        if r['reduction_pct'] is not None and r['condition'] != 'natural':
            text += f'\n{-r["reduction_pct"]:+.1f} %'
        ax2.text(i, ec[i], text, ha='center', va='bottom', fontsize=8)
    ax2.set_xticks(x, [r['label'] for r in rows], rotation=20, fontsize=8)
    ax2.set_ylabel('EC (kJ)')
    ax2.set_title('EC (eq. 16), % vs natural', fontsize=10)
    if any(ec):
        ax2.set_ylim(0, max(ec) * 1.25)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
