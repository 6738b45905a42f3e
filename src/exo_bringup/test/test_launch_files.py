"""The launch files build the graph of exo_bringup.graph, argument by argument, node by node.

``launch`` and ``launch_ros`` have no wheels, so they cannot run here. This test executes
the real launch files against a recording test double of the few classes they use
(``LaunchDescription``, ``DeclareLaunchArgument``, ``SetEnvironmentVariable``,
``OpaqueFunction``, ``Shutdown``, ``LogInfo``, ``IfCondition``, the substitutions,
``launch_ros``'s ``Node`` and ``ParameterValue``): each records what it was given, and the
test checks the description against the one graph definition. What ``ros2 launch`` then does
with those actions is upstream's.
"""

import runpy
import sys
import types

import pytest

from exo_bringup.graph import (
    NETWORK_ARGUMENTS,
    node_arguments,
    OPERATOR_ARMED,
    REAL_ARGUMENTS,
    REAL_GRAPH,
    share_path,
    SIM_ARGUMENTS,
    SIM_GRAPH,
)


class _Recorded:
    """Any launch class: remembers its positional and keyword arguments."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs

    def describe(self) -> str:
        return repr(self.args)


def _recording_class(name: str) -> type:
    return type(name, (_Recorded,), {})


@pytest.fixture
def launch_double(monkeypatch):
    """Install the recording ``launch`` / ``launch_ros`` modules; return their classes."""
    classes = {name: _recording_class(name) for name in (
        'LaunchDescription', 'DeclareLaunchArgument', 'SetEnvironmentVariable',
        'OpaqueFunction', 'Shutdown', 'LogInfo', 'IncludeLaunchDescription', 'IfCondition',
        'UnlessCondition', 'EnvironmentVariable', 'LaunchConfiguration', 'PythonExpression',
        'TextSubstitution', 'Node', 'ParameterValue')}
    modules = {
        'launch': ('LaunchDescription',),
        'launch.actions': ('DeclareLaunchArgument', 'SetEnvironmentVariable', 'OpaqueFunction',
                           'Shutdown', 'LogInfo', 'IncludeLaunchDescription'),
        'launch.conditions': ('IfCondition', 'UnlessCondition'),
        'launch.substitutions': ('EnvironmentVariable', 'LaunchConfiguration',
                                 'PythonExpression', 'TextSubstitution'),
        'launch_ros': (),
        'launch_ros.actions': ('Node',),
        'launch_ros.parameter_descriptions': ('ParameterValue',),
    }
    for name, members in modules.items():
        module = types.ModuleType(name)
        for member in members:
            setattr(module, member, classes[member])
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, 'exo_bringup.ros_launch', raising=False)
    return classes


def _describe(name: str) -> list:
    path = share_path('exo_bringup', f'launch/{name}')
    description = runpy.run_path(str(path))['generate_launch_description']()
    assert type(description).__name__ == 'LaunchDescription'
    return list(description.args[0])


def _of(actions: list, kind: str) -> list:
    return [a for a in actions if type(a).__name__ == kind]


@pytest.mark.parametrize('name, graph, arguments', [
    ('sim.launch.py', SIM_GRAPH, SIM_ARGUMENTS),
    ('real.launch.py', REAL_GRAPH, REAL_ARGUMENTS),
])
def test_launch_file_declares_every_argument_and_starts_the_graph(launch_double, name, graph,
                                                                  arguments):
    actions = _describe(name)
    declared = {a.args[0]: a.kwargs for a in _of(actions, 'DeclareLaunchArgument')}
    for arg in arguments:
        assert declared[arg.name]['default_value'] == arg.default
        assert declared[arg.name]['description'] == arg.description
    for arg in NETWORK_ARGUMENTS:
        assert declared[arg.name]['description'] == arg.description
        # The user's environment variable first, then the project's private default.
        default = declared[arg.name]['default_value']
        assert default.args == (arg.variable,) and default.kwargs['default_value'] == arg.default
    assert all(d['description'] for d in declared.values()), 'an argument without description'

    nodes = [n for n in _of(actions, 'Node') if n.kwargs.get('name')]
    assert [n.kwargs['name'] for n in nodes] == [s.name for s in graph]
    for node, spec in zip(nodes, graph, strict=True):
        kw = node.kwargs
        assert (kw['package'], kw['executable']) == (spec.package, spec.executable)
        files, overrides = kw['parameters'][:-1], kw['parameters'][-1]
        assert files == [str(share_path(p, r)) for p, r in spec.param_files]
        for parameter, arg in node_arguments(arguments, spec.name).items():
            value = overrides[parameter]
            assert type(value).__name__ == 'ParameterValue'
            assert value.args[0].args == (arg.name,)  # LaunchConfiguration(<argument>)
        assert kw['ros_arguments'] == ['--enclave', f'/exo_vic/{spec.name}']
        if spec.respawn_delay is None:
            assert [type(a).__name__ for a in kw['on_exit']] == ['Shutdown']
            assert 'respawn' not in kw
        else:
            assert kw['respawn'] is True and kw['respawn_delay'] == spec.respawn_delay


def test_only_the_real_graph_leaves_arming_to_the_operator(launch_double):
    def armed_by_launch(name):
        return {n.kwargs['name']: n.kwargs['parameters'][-1].get('autostart')
                for n in _of(_describe(name), 'Node') if n.kwargs.get('name')}

    real = armed_by_launch('real.launch.py')
    assert real['bridge_node'] is False and real['controller_node'] is False
    assert dict(OPERATOR_ARMED) == {'autostart': False}
    assert all(value is None for value in armed_by_launch('sim.launch.py').values())


def test_ros2_control_path_remaps_the_wrench_to_the_interaction_torque(launch_double):
    actions = _describe('real.launch.py')
    robot = [a for a in _of(actions, 'OpaqueFunction')
             if a.kwargs['function'].__name__ == '_robot_nodes']
    assert len(robot) == 1
    context = object()
    values = {'hardware': 'ros2_control', 'hardware_plugin': 'mock_components/GenericSystem',
              'cuff_sensor_name': 'cuff_ft'}
    launch_double['LaunchConfiguration'].perform = lambda self, _ctx: values[self.args[0]]
    started = robot[0].kwargs['function'](context)
    manager = [n for n in _of(started, 'Node') if n.kwargs['executable'] == 'ros2_control_node']
    assert manager and manager[0].kwargs['remappings'] == [
        ('/force_torque_sensor_broadcaster/wrench', '/interaction_torque')]
    values['hardware'] = 'bridge'
    assert robot[0].kwargs['function'](context) == []  # bridge_node serves the topics
    values['hardware'] = 'moteus'
    with pytest.raises(ValueError, match='moteus'):
        robot[0].kwargs['function'](context)
