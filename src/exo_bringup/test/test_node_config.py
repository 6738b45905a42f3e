"""The nodes' parameter YAML, read for the in-process evaluation (exo_bringup.node_config)."""

import pytest
import yaml

from exo_bringup.graph import COMMON_ARGUMENTS, CONTROLLER_NODE, POLICY_NODE, share_path
from exo_bringup.node_config import (
    controller_params,
    launch_overrides,
    load_node_config,
    policy_params,
    read_node_parameters,
)


def _write(path, text):
    path.write_text(text)
    return path


def test_the_shipped_files_load_with_their_values():
    for spec, load in ((CONTROLLER_NODE, controller_params), (POLICY_NODE, policy_params)):
        path = share_path(*spec.param_files[0])
        raw = yaml.safe_load(path.read_text())[spec.name]['ros__parameters']
        params = load()  # the default: the file the launch files pass
        for key, value in raw.items():
            if hasattr(params, key):
                assert getattr(params, key) == value, key


def test_one_default_reference_source_everywhere():
    """policy.yaml, the parameter's default and the launch argument name the same mode."""
    from exo_policy.baselines import GRAVITY_SHARE
    from exo_policy.params import DEFAULT_MODE, PolicyNodeParams
    raw = yaml.safe_load(share_path(*POLICY_NODE.param_files[0]).read_text())
    raw = raw[POLICY_NODE.name]['ros__parameters']
    launch = {a.name: a.default for a in COMMON_ARGUMENTS}
    assert raw['mode'] == PolicyNodeParams().mode == launch['policy_mode'] == DEFAULT_MODE
    assert raw['gravity_share'] == PolicyNodeParams().gravity_share == GRAVITY_SHARE


def test_values_of_the_file_are_used(tmp_path):
    path = _write(tmp_path / 'params.yaml', 'controller_node:\n  ros__parameters:\n'
                  '    target_damping: 4\n    stiffness_max: 120.0\n    autostart: false\n')
    params = controller_params(path)
    assert params.target_damping == 4.0 and isinstance(params.target_damping, float)
    assert params.stiffness_max == 120.0
    assert params.target_inertia == 0.05  # absent: the declared default
    path = _write(tmp_path / 'policy.yaml', 'policy_node:\n  ros__parameters:\n'
                  '    rate_hz: 50\n    language_encoder: lexical\n')
    config = load_node_config(controller_path=tmp_path / 'params.yaml', policy_path=path)
    assert config.policy_period == pytest.approx(0.02)
    assert config.policy.language_encoder == 'lexical'
    assert config.controller.stiffness_max == 120.0


def test_wildcard_section_then_the_node_section(tmp_path):
    path = _write(tmp_path / 'params.yaml',
                  '/**:\n  ros__parameters:\n    use_sim_time: false\n    max_tick: 0.004\n'
                  '    torque_limit: 10.0\n'
                  '/controller_node:\n  ros__parameters:\n    torque_limit: 12.0\n')
    assert read_node_parameters(path, 'controller_node') == {
        'use_sim_time': False, 'max_tick': 0.004, 'torque_limit': 12.0}
    params = controller_params(path)
    assert (params.max_tick, params.torque_limit) == (0.004, 12.0)


@pytest.mark.parametrize('load, node, key', [
    (controller_params, 'controller_node', 'target_dampin'),
    (policy_params, 'policy_node', 'rate'),
])
def test_an_unknown_key_is_refused_and_quoted(tmp_path, load, node, key):
    path = _write(tmp_path / 'p.yaml', f'{node}:\n  ros__parameters:\n    {key}: 5.0\n')
    with pytest.raises(ValueError, match=f"unknown {node} parameter.*'{key}'") as exc:
        load(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize('text, match', [
    ('policy_node:\n  ros__parameters:\n    rate_hz: fast\n', 'rate_hz'),
    ('policy_node:\n  ros__parameters:\n    rate_hz: 0.0\n', 'rate_hz'),
    ('policy_node:\n  ros__parameters:\n    mode: magic\n', 'magic'),
    ('policy_node:\n  ros__parameters:\n    checkpoint: 3\n', 'checkpoint'),
    ('sim_node:\n  ros__parameters:\n    rate_hz: 100.0\n', "no parameters for 'policy_node'"),
    ('policy_node:\n  rate_hz: 100.0\n', 'ros__parameters'),
    ('- a list\n', 'not a ROS 2 parameter file'),
])
def test_invalid_policy_files_are_refused(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        policy_params(_write(tmp_path / 'policy.yaml', text))


def test_invalid_controller_values_are_refused_with_the_file(tmp_path):
    path = _write(tmp_path / 'params.yaml',
                  'controller_node:\n  ros__parameters:\n    target_inertia: -1.0\n')
    with pytest.raises(ValueError, match='target_inertia') as exc:
        controller_params(path)
    assert str(path) in str(exc.value)


def test_launch_argument_defaults_are_parsed_as_launch_ros_does():
    overrides = launch_overrides(POLICY_NODE)
    assert isinstance(overrides['rate_hz'], float) and isinstance(overrides['mode'], str)
    assert isinstance(launch_overrides(CONTROLLER_NODE)['torque_limit'], float)
