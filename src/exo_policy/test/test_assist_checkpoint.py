r"""Tests of the shipped *assist* checkpoint (``exo_policy/data/assist``).

It is the bimodal policy trained on the virtual-equilibrium reference
``q_v = q_exo - tau_ext / k_int`` of the ``alpha = 1`` episodes (``reference_target =
'assist'``): fed to the impedance law with ``K = k_int`` it reproduces the recorded eq. 3
assistance instead of following the human (what the default checkpoint's reference does).

Only what the runtime needs is shipped (``policy.onnx``, ``policy_meta.json``) plus the
validation metrics (``policy_metrics.json``) and the golden outputs. To regenerate::

    exo_train --data data/exo_vic_v1 --out out/train_assist --reference-target assist \
        --alphas 1 --threads 1
    cp out/train_assist/policy.onnx out/train_assist/policy_meta.json \
        src/exo_policy/exo_policy/data/assist/
    cp out/train_assist/metrics.json src/exo_policy/exo_policy/data/assist/policy_metrics.json
    python -m exo_policy.runtime --write-golden \
        --checkpoint src/exo_policy/exo_policy/data/assist
"""

import json
import math

import pytest

from exo_contract.language import TaskResolver
from exo_policy.runtime import (
    default_assist_checkpoint_dir,
    default_checkpoint_dir,
    LearnedReferenceSource,
)
from exo_policy.sources import make_source, SOURCE_MODES


@pytest.fixture(scope='module')
def resolver():
    return TaskResolver('lexical')


def test_assist_checkpoint_metadata_and_size():
    directory = default_assist_checkpoint_dir()
    assert directory.parent == default_checkpoint_dir()
    meta = json.loads((directory / 'policy_meta.json').read_text())
    assert meta['config']['reference_target'] == 'assist'
    assert meta['config']['train_alphas'] == [1.0]
    assert meta['metadata']['reference_target'] == 'assist'
    assert (directory / 'policy.onnx').stat().st_size < 4_000_000
    assert not (directory / 'policy.pt').exists()  # runtime needs no torch weights
    metrics = json.loads((directory / 'policy_metrics.json').read_text())
    assert math.isfinite(metrics['val_rmse_q_rad'])
    assert metrics['val_rmse_q_rad'] < metrics['val_rmse_q_hold_baseline_rad']


def test_make_source_assist_uses_the_assist_checkpoint(resolver):
    assert 'assist' in SOURCE_MODES
    source = make_source('assist', resolver=resolver)
    assert isinstance(source, LearnedReferenceSource)
    assert source.policy.meta['config']['reference_target'] == 'assist'
    learned = make_source('learned', resolver=resolver)
    assert learned.policy.meta['config'].get('reference_target', 'human') == 'human'
    # an explicit checkpoint overrides the shipped one
    explicit = make_source('assist', resolver=resolver, checkpoint=str(default_checkpoint_dir()))
    assert explicit.policy.meta['config'].get('reference_target', 'human') == 'human'
    source.set_task_text('lift a heavy box', 0.0)
    for n in range(200):
        target = source.reference(n / 100, 0.3 + 0.5 * math.sin(n / 50) ** 2, 0.0)
        assert target.source == 'learned' and target.task_id == 'lift_heavy'
        assert math.isfinite(target.reference_angle) and 0 < target.stiffness < 1000


def test_policy_node_params_accept_assist():
    from exo_policy.params import POLICY_MODES, PolicyNodeParams
    assert POLICY_MODES == SOURCE_MODES
    assert PolicyNodeParams(mode='assist').mode == 'assist'
