"""Closed-loop evaluation (paper section V, Fig. 4-7): every task x condition x body mass.

In-process rollouts (:func:`exo_sim.rollout.run_rollout`, no ROS) of the simulated human
wearing the exo under six conditions:

* ``no_exo``      -- no exoskeleton at all (``ExoArmConfig(attach_exo=False)``);
* ``transparent`` -- exo attached, zero assistance (``ZeroTorque``);
* ``promp``       -- the fair ProMP baseline (:class:`exo_policy.promp.ProMPReferenceSource`,
                     fitted on the default policy's own targets and training episodes; its
                     phase runs from the instruction time, it has no proprioception);
* ``learned``     -- the default policy (``exo_policy.runtime.LearnedReferenceSource``,
                     bounded virtual equilibrium of alpha = 0.5 rollouts: it follows the task
                     and assists; skipped with a message when it cannot be constructed);
* ``oracle``      -- task-library reference + fitted stiffness;
* ``ablation_human_reference`` -- ablation, the paper's literal formulation: the same
                     policy trained on the human's own reference (the exo follows the
                     wearer); not a mode of policy_node;

the assisted ones through :class:`exo_experiments.harness.ImpedanceAssist` (reference source +
stability-bounded impedance controller, the same cores as the ROS nodes), at the
training masses (60, 70, 80 kg) and unseen masses (55, 65, 75, 90 kg), over seeds (default
5): each seed draws the human's reaction time after the instruction (0.2-1.0 s), speed,
amplitude, rest posture and motor noise, the same in every condition
(:func:`exo_experiments.evaluation.single.draw_timing`); the human has practised each task
under the condition before (:func:`exo_experiments.evaluation.single.practised_memory`). Plus a
repetitive lift-and-carry session with a 10 kg box (default 10 simulated minutes) per seed.

The nodes' configuration: the controller's parameters and the policy's rate (reference
period ``1 / rate_hz``), task resolver and source files come from the parameter YAML the
launch files pass to controller_node and policy_node, with the launch arguments' defaults
on top (:mod:`exo_bringup.node_config`; ``--controller-params`` / ``--policy-params``
take other files as they are). One language front end: the simulated human and every
condition resolve the task text with the same :class:`exo_language.resolver.TaskResolver`
(one per process), so a paraphrase runs the same task in every mode and unknown text is
refused in every mode.

Metrics per rollout (over the task's active phase, ``0 < phase < 1``):

* ``rmse_rad``: RMSE of the exo angle vs the task reference (no_exo: the human angle);
* ``effort``: mean over time of the sum of the six squared muscle activations (eq. 2);
* ``metabolic_energy_j`` / ``_j_per_kg``: integral of the muscle metabolic power of the
  Umberger, Gerritsen & Martin (2003) muscle-energetics model
  (:class:`exo_sim.metabolic.MetabolicModel`; six elbow muscles of one arm, no basal term);
* safety counters of :class:`ImpedanceAssist` (stiffness-rate bound violations,
  torque-limit violations, non-finite commands): all must be 0.

Repetitive task: cycles of ``'lift a heavy box'`` (mission 8, 10 kg box in the hand for
the whole session) with small random amplitude/duration variation (+-5 %), a random
reaction time (0.2-1.0 s) and a random pause of 2-4 s between cycles (about 60 cycles in
10 min, as in the paper), run on the one step loop (:class:`exo_sim.step_loop.StepLoop`;
each cycle's instruction at the first step at or after its scheduled time); the task text
is re-sent with every instruction. Its
``rmse_rad`` is over the cycles' active phases, its ``effort`` over the whole session.
EE(t) in W/kg is the modelled muscle metabolic power per kg body mass (plus
``--basal-w-per-kg``, default 0: the paper's indirect calorimetry includes the whole
body, our model only the elbow muscles), and EC is eq. 16
(:func:`exo_contract.metabolics.steady_state_energy`) over the steady-state window [0.3 T, T]
([3 min, 10 min] for T = 10 min), with its reduction against no_exo in %
(positive = less energy than no_exo).

eval.json schema (``schema: 'exo_vic.eval/1'``)::

    {schema, created, wall_s, config: {conditions, tasks, masses, training_masses,
     unseen_masses, repetitive_minutes, quick, seed, basal_w_per_kg},
     metabolic_model, skipped_conditions: {condition: reason},
     rollouts: [{task_id, text, condition, body_mass_kg, seed, timing: {onset_s, speed,
                 amplitude_scale, baseline_offset_rad, duration_scale},
                 practice_repetitions, mass_seen, resolved_task,
                 confidence, rmse_rad, rmse_human_rad, effort, metabolic_energy_j,
                 metabolic_energy_j_per_kg, energy_change_pct (paired vs no_exo),
                 safety: {ticks, stiffness_rate_violations,
                 torque_limit_violations, nonfinite_commands}, safety_ok, k_mean, k_max,
                 wall_s (the wall time of the rollout's batch, per rollout),
                 traces (first seed at 70 kg)} | {..., error}],
     summary: {task_id: {condition: {rmse_rad, rmse_rad_ci95, effort,
               metabolic_energy_j_per_kg, energy_change_pct, energy_change_pct_ci95,
               n, rmse_rad_seen, rmse_rad_unseen}}},
     per_condition: {condition: {rmse_rad, effort, metabolic_energy_j_per_kg, n,
                     safety_violations}},
     repetitive: {task_text, payload_kg, body_mass_kg, minutes, steady_window_s, seed,
                  ee_definition, conditions: {condition: {ec_j, ec_kj,
                  reduction_pct_vs_no_exo, mean_ee_w_per_kg, cycles_started,
                  cycles_completed, rmse_rad, effort, safety, safety_ok, ee_curve:
                  {t_s, ee_w_per_kg} (1 s bins), first_minute: {t_s, q_ref, q,
                  stiffness} (20 Hz), wall_s (the wall time of the session's batch, per
                  session)}} (the first seed), over_seeds: {condition: {seeds,
                  ec_j, reduction_pct, reduction_pct_mean, reduction_pct_ci95, rmse_rad,
                  rmse_rad_ci95}}},
     safety_ok, plots: [file names]}

    exo_eval --out out/eval                 # full grid (minutes on many cores)
    exo_eval --quick --out out/eval_quick   # 3 tasks, 70 kg, 1 simulated minute
    exo_eval --task-text 'make an ok gesture' --mass 72 --policy promp --json \
        [--seed 3] [--onset-delay 0.5] [--speed 1.1] [--amplitude 0.9]

Modules: :mod:`~exo_experiments.evaluation.conditions` (conditions, reference sources, the
shared resolver, safety counters), :mod:`~exo_experiments.evaluation.single` (one rollout),
:mod:`~exo_experiments.evaluation.repetitive` (schedule, session, EE/EC),
:mod:`~exo_experiments.evaluation.grid` (job pool, summary, eval.json),
:mod:`~exo_experiments.evaluation.figures` (Fig. 4-7), :mod:`~exo_experiments.evaluation.cli`
(``exo_eval``).
"""

from exo_experiments.evaluation.cli import build_parser, main, QUICK_MASSES, QUICK_TASKS
from exo_experiments.evaluation.conditions import (
    ASSISTED,
    check_condition,
    CONDITIONS,
    language_resolver,
    make_source,
    RecordingSource,
    resolve_task,
    safety_counts,
    safety_ok,
    SourceUnavailableError,
    TRAINING_MASSES,
    UNKNOWN_TEXT_ERROR,
    UNSEEN_MASSES,
)
from exo_experiments.evaluation.figures import make_plots
from exo_experiments.evaluation.grid import METABOLIC_MODEL, run_evaluation, SCHEMA, summarize
from exo_experiments.evaluation.repetitive import (
    Cycle,
    ec_reduction_pct,
    ee_metrics,
    make_schedule,
    REPETITIVE_MASS_KG,
    REPETITIVE_TASK,
    RepetitiveAssist,
    RepetitiveRequest,
    run_repetitive,
    run_repetitive_sessions,
    start_step,
    steady_window,
)
from exo_experiments.evaluation.single import (
    draw_timing,
    evaluate_rollout,
    practised_memory,
    REST_AFTER_S,
    REST_BEFORE_S,
    single_rollout,
    timing_variation,
)

__all__ = [
    'ASSISTED', 'build_parser', 'check_condition', 'CONDITIONS', 'Cycle', 'draw_timing',
    'ec_reduction_pct', 'ee_metrics', 'evaluate_rollout', 'language_resolver', 'main',
    'make_plots', 'make_schedule', 'make_source', 'METABOLIC_MODEL', 'practised_memory',
    'QUICK_MASSES', 'QUICK_TASKS', 'RecordingSource', 'RepetitiveAssist', 'REPETITIVE_MASS_KG',
    'REPETITIVE_TASK', 'resolve_task', 'REST_AFTER_S', 'REST_BEFORE_S', 'run_evaluation',
    'RepetitiveRequest', 'run_repetitive', 'run_repetitive_sessions', 'safety_counts',
    'safety_ok', 'SCHEMA', 'single_rollout',
    'SourceUnavailableError', 'start_step', 'steady_window', 'summarize', 'timing_variation',
    'TRAINING_MASSES', 'UNKNOWN_TEXT_ERROR', 'UNSEEN_MASSES',
]
