"""Tests of ControllerParams validation and round trip."""

import math

import pytest

from exo_impedance_controller.params import ControllerParams


def test_defaults_valid_and_round_trip():
    p = ControllerParams()
    assert p.stiffness_min <= p.stiffness_compliant <= p.stiffness_max
    assert ControllerParams.from_mapping(p.to_dict()) == p


@pytest.mark.parametrize('name, value, quoted', [
    ('target_damping', -2.0, 'target_damping must be > 0 N*m*s/rad, got -2.0'),
    ('target_inertia', 0.0, 'target_inertia must be > 0 kg*m^2, got 0.0'),
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
    ('joint_name', '', "got ''"),
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
