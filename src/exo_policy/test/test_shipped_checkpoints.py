r"""Tests of the two shipped checkpoints' roles.

* The default (``exo_policy/data``, what ``policy_mode:=learned`` runs): the bimodal policy
  trained on the bounded virtual equilibrium ``q_exo + clip(-tau_ext / k_int, +-max_lead)``
  of the ``alpha = 0.5`` episodes (``reference_target = 'assist'``): fed to the impedance
  law with ``K = k_int`` it reproduces the recorded eq. 3 assistance. Regenerate::

      make data && make train
      cp out/train/policy.pt out/train/policy.onnx out/train/policy_meta.json \
          src/exo_policy/exo_policy/data/
      cp out/train/metrics.json src/exo_policy/exo_policy/data/policy_metrics.json
      python -m exo_policy.runtime --write-golden
      exo_fit_promp --data data/exo_vic_v2     # the fair ProMP: same targets and episodes

* The ablation (``exo_policy/data/ablation_human_reference``): the paper's literal
  formulation, the human's own reference (``reference_target = 'human'``, every alpha);
  only the evaluation's ``ablation_human_reference`` condition runs it. Only what the
  runtime needs is shipped (``policy.onnx``, ``policy_meta.json``) plus the validation
  metrics and the golden outputs. Regenerate::

      exo_train --data data/exo_vic_v2 --out out/train_ablation --reference-target human
      cp out/train_ablation/policy.onnx out/train_ablation/policy_meta.json \
          src/exo_policy/exo_policy/data/ablation_human_reference/
      cp out/train_ablation/metrics.json \
          src/exo_policy/exo_policy/data/ablation_human_reference/policy_metrics.json
      python -m exo_policy.runtime --write-golden \
          --checkpoint src/exo_policy/exo_policy/data/ablation_human_reference
"""

import json
import math

import pytest

from exo_language.resolver import TaskResolver
from exo_policy.configuration import PolicyConfig
from exo_policy.params import POLICY_MODES, PolicyNodeParams
from exo_policy.runtime import (
    ablation_checkpoint_dir,
    default_checkpoint_dir,
    LearnedReferenceSource,
)
from exo_policy.sources import make_source, SOURCE_MODES


@pytest.fixture(scope='module')
def resolver():
    return TaskResolver('lexical')


def _meta(directory):
    return json.loads((directory / 'policy_meta.json').read_text())


def test_default_checkpoint_is_the_assisting_policy():
    meta = _meta(default_checkpoint_dir())
    assert meta['config']['reference_target'] == 'assist'
    assert meta['config']['train_alphas'] == [0.5]
    assert meta['config']['max_lead'] == PolicyConfig().max_lead
    assert meta['metadata']['split'] == 'group'
    metrics = json.loads((default_checkpoint_dir() / 'policy_metrics.json').read_text())
    assert metrics['val_rmse_q_rad'] < metrics['val_rmse_q_hold_baseline_rad']
    assert metrics['val_r2_k'] > 0.5


def test_ablation_checkpoint_metadata_and_size():
    directory = ablation_checkpoint_dir()
    assert directory.parent == default_checkpoint_dir()
    meta = _meta(directory)
    assert meta['config']['reference_target'] == 'human'
    assert meta['config']['train_alphas'] == []
    assert (directory / 'policy.onnx').stat().st_size < 4_000_000
    assert not (directory / 'policy.pt').exists()  # runtime needs no torch weights
    metrics = json.loads((directory / 'policy_metrics.json').read_text())
    assert math.isfinite(metrics['val_rmse_q_rad'])


def test_no_mode_runs_the_ablation_by_accident(resolver):
    """policy_node's modes: the default policy, ProMP, the oracle and two physics baselines.

    The paper's literal formulation is reachable only through an explicit checkpoint path.
    """
    assert POLICY_MODES == SOURCE_MODES == ('learned', 'promp', 'oracle', 'gravity_share',
                                            'constant_assist')
    with pytest.raises(ValueError, match="'assist'"):
        PolicyNodeParams(mode='assist')
    with pytest.raises(ValueError, match="'assist'"):
        make_source('assist', resolver=resolver)
    learned = make_source('learned', resolver=resolver)
    assert learned.policy.meta['config']['reference_target'] == 'assist'
    explicit = make_source('learned', resolver=resolver,
                           checkpoint=str(ablation_checkpoint_dir()))
    assert explicit.policy.meta['config']['reference_target'] == 'human'


@pytest.mark.parametrize('directory', [default_checkpoint_dir(), ablation_checkpoint_dir()])
def test_reference_never_leads_the_arm_beyond_max_lead(directory, resolver):
    source = LearnedReferenceSource(directory, resolver=resolver)
    lead = source.policy.max_lead
    source.set_task_text('lift a heavy box', 0.0)
    for n in range(300):
        q = 0.3 + 0.5 * math.sin(n / 50) ** 2
        target = source.reference(n / 100, q, 0.0)
        assert target.source == 'learned' and target.task_id == 'lift_heavy'
        assert abs(target.reference_angle - q) <= lead + 1e-9
        assert 0 < target.stiffness < 1000
