"""Training smoke tests on a tiny synthetic dataset (seconds, one thread)."""

import json

import numpy as np
import pytest
import torch

from exo_contract.dataset import write_dataset
from exo_policy.configuration import quick_config
from exo_policy.dataset import synthetic_table
from exo_policy.train import load_checkpoint, main, parse_alphas, train

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    return write_dataset(synthetic_table(episodes_per_task=2, seed=3),
                       tmp_path_factory.mktemp('data'))


def test_training_reduces_loss_and_writes_checkpoint(data_dir, tmp_path):
    cfg = quick_config(epochs=4, max_train_windows=3000, learning_rate=5e-3)
    metrics = train(data_dir, tmp_path, cfg, progress=False)
    first = metrics['first_train_loss']
    last = metrics['history'][-1]['train_loss']
    assert last < 0.7 * first, (first, last)
    for name in ('policy.pt', 'policy.onnx', 'policy_meta.json', 'metrics.json'):
        assert (tmp_path / name).is_file()
    written = json.loads((tmp_path / 'metrics.json').read_text())
    assert set(written['per_task']) == {'ok_gesture', 'thumbs_up', 'thumb_down', 'drink', 'wave',
                                        'lift_light', 'shelf', 'lift_heavy', 'carry_bimanual'}
    assert np.isfinite(written['val_rmse_q_rad']) and np.isfinite(written['val_rmse_k_nm_per_rad'])
    assert written['onnx_max_abs_diff'] < 1e-3
    model, config, norm, tok, meta = load_checkpoint(tmp_path)
    assert config == cfg and meta['val_episodes'] >= 9
    assert tok.decode(tok.encode('lift a heavy box')) == 'lift a heavy box'
    assert norm.k_scale > 0


def test_console_script_quick(data_dir, tmp_path, capsys):
    assert main(['--data', str(data_dir), '--out', str(tmp_path), '--quick', '--epochs', '1',
                 '--threads', '1']) == 0
    out = capsys.readouterr().out
    assert 'wall time' in out and (tmp_path / 'policy.onnx').is_file()


def test_assist_target_trains_on_selected_alphas_and_is_recorded(tmp_path):
    data = write_dataset(synthetic_table(episodes_per_task=3, seed=4), tmp_path / 'data')
    out = tmp_path / 'ckpt'
    assert main(['--data', str(data), '--out', str(out), '--quick', '--epochs', '1',
                 '--threads', '1']) == 0  # the default target: assist, alpha 0.5
    _, config, norm, _, meta = load_checkpoint(out)
    assert config.reference_target == 'assist' and config.train_alphas == (0.5,)
    assert meta['reference_target'] == 'assist' and meta['train_alphas'] == [0.5]
    assert meta['max_lead'] == config.max_lead
    assert meta['train_episodes'] + meta['val_episodes'] == 18  # alpha 1 episodes dropped
    # the synthetic virtual equilibrium leads the exo: positive mean offset
    assert norm.dq_mean > 0.01
    written = json.loads((out / 'policy_meta.json').read_text())
    assert written['config']['reference_target'] == 'assist'
    assert written['metadata']['train_alphas'] == [0.5]
    # the paper's literal target trains on every alpha unless told otherwise
    human = tmp_path / 'human'
    assert main(['--data', str(data), '--out', str(human), '--quick', '--epochs', '1',
                 '--threads', '1', '--reference-target', 'human']) == 0
    _, config, _, _, meta = load_checkpoint(human)
    assert config.reference_target == 'human' and config.train_alphas == ()
    assert meta['train_episodes'] + meta['val_episodes'] == 27


def test_parse_alphas_and_cli_errors(data_dir, tmp_path, capsys):
    assert parse_alphas('all') == () and parse_alphas('1, 0.5') == (1.0, 0.5)
    for bad in ('', 'one', ','):
        with pytest.raises(ValueError, match=repr(bad).replace('(', r'\(')):
            parse_alphas(bad)
    for argv, quoted in ((['--alphas', 'x'], "'x'"), (['--alphas', '1,1'], '(1.0, 1.0)'),
                         (['--reference-target', 'bogus'], "'bogus'")):
        with pytest.raises(SystemExit):
            main(['--data', str(data_dir), '--out', str(tmp_path), '--quick', *argv])
        assert quoted in capsys.readouterr().err
