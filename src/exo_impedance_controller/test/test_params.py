"""Tests of ControllerParams validation and round trip."""

import math

import pytest

from exo_impedance_controller.params import ControllerParams


def test_defaults_valid_and_round_trip():
    p = ControllerParams()
    assert p.stiffness_min <= p.stiffness_compliant <= p.stiffness_max
    assert ControllerParams.from_mapping(p.to_dict()) == p


@pytest.mark.parametrize('name, value, quoted', [
    ('target_damping', -2.0, 'target_damping must be in (0, 100] N*m*s/rad, got -2.0'),
    ('target_inertia', 0.0, 'target_inertia must be in (0, 10] kg*m^2, got 0.0'),
    ('stiffness_min', 0.0, 'got 0.0'),
    ('stiffness_max', 1.0, 'stiffness_max must be > stiffness_min (2.0)'),
    ('stiffness_compliant', 500.0, 'got 500.0'),
    ('torque_limit', -1.0, 'got -1.0'),
    ('joint_limit_upper', -1.0, 'got -1.0'),
    ('joint_limit_margin', 2.0, 'got 2.0'),
    ('exo_inertia', 0.0, 'got 0.0'),
    ('max_tick', 0.0, 'got 0.0'),
    ('reference_timeout', -0.1, 'got -0.1'),
    ('target_damping', math.nan, 'got nan'),
    ('exo_gravity_sin', math.inf, 'got inf'),
    ('torque_limit', True, 'got True'),
    ('torque_limit', 1000.0, 'torque_limit must be in (0, 30] N*m, got 1000.0'),
    ('joint_name', '', "got ''"),
    ('plausible_angle_margin', -0.1, 'plausible_angle_margin must be in [0, 3.14'),
    ('max_plausible_velocity', 0.0, 'max_plausible_velocity must be in (0, 100] rad/s, got 0.0'),
    ('interaction_torque_range', -5.0, 'got -5.0'),
    ('max_interaction_torque_rate', math.nan, 'got nan'),
    ('max_reference_speed', 0.0, 'max_reference_speed must be in (0, 100] rad/s, got 0.0'),
    ('stability_margin', 0.0, 'stability_margin must be in (0, 1)'),
    ('stability_margin', 1.0, 'got 1.0'),
    ('max_torque_rate', -1.0, 'max_torque_rate must be in (0, 100000] N*m/s, got -1.0'),
    ('fault_recovery_samples', 0,
     'fault_recovery_samples must be in [1, 1000000] samples, got 0'),
    ('fault_recovery_samples', 2.5, 'must be an integer (samples), got 2.5'),
])
def test_invalid_values_are_quoted(name, value, quoted):
    with pytest.raises(ValueError) as info:
        ControllerParams(**{name: value})
    assert quoted in str(info.value)
    assert name in str(info.value)


def test_from_mapping_rejects_unknown_and_wrong_types():
    with pytest.raises(ValueError, match="'stifness_max'"):
        ControllerParams.from_mapping({'stifness_max': 3.0})
    with pytest.raises(ValueError, match="torque_limit must be a number.*'25'"):
        ControllerParams.from_mapping({'torque_limit': '25'})
    with pytest.raises(ValueError, match='joint_name must be a string'):
        ControllerParams.from_mapping({'joint_name': 3})


def test_ints_are_coerced_to_float():
    p = ControllerParams.from_mapping({'torque_limit': 10})
    assert isinstance(p.torque_limit, float) and p.torque_limit == 10.0


def test_integer_field_stays_integer():
    p = ControllerParams.from_mapping({'fault_recovery_samples': 7})
    assert p.fault_recovery_samples == 7 and isinstance(p.fault_recovery_samples, int)
    with pytest.raises(ValueError, match='fault_recovery_samples must be an integer'):
        ControllerParams.from_mapping({'fault_recovery_samples': 7.0})


def test_every_field_has_a_unit_a_ros_parameter_and_a_yaml_value():
    import pathlib

    import yaml

    from exo_contract.parameters import specs
    numeric = [s for s in specs(ControllerParams) if s.kind in (int, float)]
    assert all(s.unit for s in numeric), [s.name for s in numeric if not s.unit]
    names = set(ControllerParams().to_dict()) - {'joint_name'}
    assert names == {s.name for s in numeric}
    path = pathlib.Path(__file__).parents[1] / 'config' / 'params.yaml'
    values = yaml.safe_load(path.read_text())['controller_node']['ros__parameters']
    assert names <= set(values)
    assert ControllerParams.from_mapping(
        {k: v for k, v in values.items()
         if k not in ('autostart', 'reference_owner')}) == ControllerParams()
