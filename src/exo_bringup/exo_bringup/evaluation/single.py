"""Single closed-loop rollouts: one task, one condition, one body mass.

Each rollout runs :func:`exo_sim.rollout.run_rollout` (the one step loop) with
``REST_BEFORE_S`` s of rest, the task, ``REST_AFTER_S`` s of rest; metrics over the task's
active phase (:mod:`exo_contract.metrics`).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.integrate import trapezoid

from exo_bringup.evaluation.conditions import (
    assist_kwargs,
    make_source,
    RecordingSource,
    resolve_task,
    safety_counts,
    safety_ok,
    TRAINING_MASSES,
    UNKNOWN_TEXT_ERROR,
)
from exo_bringup.harness import ImpedanceAssist
from exo_bringup.node_config import NodeConfig
from exo_contract.metrics import active_mask, effort, rmse
from exo_contract.tasks import Task
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import run_rollout, ZeroTorque

REST_BEFORE_S = 0.5
REST_AFTER_S = 0.5
TRACE_PERIOD_S = 0.01


def evaluate_rollout(task: Task, condition: str, body_mass_kg: float,
                     text: str | None = None, traces: bool = False,
                     node_config: NodeConfig | None = None) -> dict:
    """One closed-loop rollout of ``task`` (the human's task) under ``condition``.

    Args:
        task: what the simulated human does.
        condition: one of :data:`~exo_bringup.evaluation.conditions.CONDITIONS`.
        body_mass_kg: body mass of the simulated human, kg.
        text: instruction given to the reference source (default: the task's text).
        traces: add 100 Hz traces (t, q_ref, q, q_human, stiffness).
        node_config: the nodes' configuration (default: the launch files' YAML).

    Returns:
        the metrics dict of one ``rollouts`` entry of eval.json.

    """
    start = time.perf_counter()
    text = task.text if text is None else text
    config = ExoArmConfig(body_mass_kg=float(body_mass_kg), attach_exo=condition != 'no_exo')
    source = make_source(condition, node_config)
    assist = None
    recorder = None
    if source is None:
        controller = ZeroTorque()
    else:
        recorder = RecordingSource(source)
        assist = ImpedanceAssist(recorder, text, REST_BEFORE_S, **assist_kwargs(node_config))
        controller = assist
    res = run_rollout(task, config=config, controller=controller, rest_before=REST_BEFORE_S,
                      rest_after=REST_AFTER_S)
    active = active_mask(res.phase)
    q = res.q_human if condition == 'no_exo' else res.q_exo
    energy = float(trapezoid(res.metabolic_power[active], res.t[active]))
    safety = safety_counts(assist)
    k = np.asarray(assist.counters.stiffness) if assist is not None else np.zeros(0)
    out = {
        'task_id': task.task_id, 'text': text, 'condition': condition,
        'body_mass_kg': float(body_mass_kg),
        'mass_seen': float(body_mass_kg) in TRAINING_MASSES,
        'resolved_task': (recorder.resolved.task_id if recorder is not None
                          and recorder.resolved is not None else None),
        'confidence': recorder.confidence if recorder is not None else None,
        'fallback_fraction': (recorder.fallbacks / max(recorder.references, 1)
                              if recorder is not None else None),
        'rmse_rad': rmse(q, res.q_ref, active),
        'rmse_human_rad': rmse(res.q_human, res.q_ref, active),
        'effort': effort(res.activations, active),
        'metabolic_energy_j': energy,
        'metabolic_energy_j_per_kg': energy / float(body_mass_kg),
        'safety': safety, 'safety_ok': safety_ok(safety),
        'k_mean': float(k.mean()) if k.size else None,
        'k_max': float(k.max()) if k.size else None,
        'wall_s': time.perf_counter() - start,
    }
    if traces:
        every = max(1, int(round(TRACE_PERIOD_S / config.timestep)))
        idx = np.arange(0, len(res.t), every)
        out['traces'] = {'t': res.t[idx].tolist(), 'q_ref': res.q_ref[idx].tolist(),
                         'q': q[idx].tolist(), 'q_human': res.q_human[idx].tolist()}
        if k.size:
            ctrl_every = max(1, int(round(assist.policy_period / config.timestep)))
            out['traces']['stiffness'] = k[::ctrl_every][:len(idx)].tolist()
    return out


def single_rollout(task_text: str, mass: float, policy: str,
                   node_config: NodeConfig | None = None) -> dict:
    """One rollout for an arbitrary text and body mass: resolution, RMSE, effort, safety.

    The simulated human and the reference source resolve the text with the same resolver
    (:func:`~exo_bringup.evaluation.conditions.resolve_task`), whatever the mode: a
    paraphrase runs the task it names, text that names no task is refused (``error``)
    before anything is simulated.
    """
    task = resolve_task(task_text, node_config)
    if task is None:
        return {'task_text': task_text, 'policy': policy, 'body_mass_kg': mass,
                'resolved_task': None, 'error': UNKNOWN_TEXT_ERROR}
    res = evaluate_rollout(task, policy, mass, text=task_text, node_config=node_config)
    res['human_task'] = task.task_id
    res['policy'] = policy
    res['task_text'] = task_text
    if res['resolved_task'] is None and policy in ('no_exo', 'transparent'):
        res['resolved_task'] = task.task_id
    return res
