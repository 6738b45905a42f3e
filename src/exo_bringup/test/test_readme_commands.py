"""Every command of README.md's bash blocks is run by a named test or CI script, or needs ROS.

:data:`EXERCISED` maps a command to the test files or CI scripts that run what it runs; each
must exist and contain the command's console script (or make target). :data:`FULL_ROS`
names the first words of commands that need a full ROS install (``ros2``, ``colcon``,
``rosdep``, ``docker``, ``pip install``, an overlay's ``setup.bash``), which CI cannot run.
:data:`NOT_EXERCISED` lists commands that no test runs yet: strict xfail, so that a test
added for one turns this into a failure until the command moves to :data:`EXERCISED`.
"""

from __future__ import annotations

from pathlib import Path
import re

import pytest

ROOT = Path(__file__).resolve().parents[3]
FULL_ROS = ('ros2 ', 'colcon ', 'rosdep ', 'docker ', 'pip install ', 'source install/')
#: command -> (name that the files must contain, files relative to the repository root).
EXERCISED = {
    'make test': ('make test', ('.ci/run',)),
    'source tools/env.sh': ('tools/env.sh', ('Makefile',)),
    'exo_launch sim --body_mass_kg 80 &': ('GraphProcesses', (
        'src/exo_bringup/test/test_graph.py', 'src/exo_bringup/test/test_lockstep.py')),
    "exo_send_task 'lift a heavy box'": ('send_task', (
        'src/exo_bringup/test/test_send_task.py',)),
    'exo_launch real': ('exo_launch real', ('src/exo_bringup/test/test_arming.py',
                                            'src/exo_bringup/test/test_bridge.py')),
    'exo_arm': ('exo_arm', ('src/exo_bringup/test/test_arming.py',)),
    'exo_arm --disarm': ('exo_arm', ('src/exo_bringup/test/test_arming.py',)),
    'exo_prewear_check': ('exo_prewear_check', ('src/exo_bringup/test/test_arming.py',)),
    'exo_bench_bridge --runs 3': ('exo_bench_bridge', (
        'src/exo_hardware/test/test_bench_bridge.py',)),
    'make demo': ('exo_demo', ('Makefile', 'src/exo_experiments/test/test_demo.py')),
}
NOT_EXERCISED: set[str] = set()


def readme_commands() -> list[str]:
    """The commands of README.md's bash blocks, comments stripped."""
    text = (ROOT / 'README.md').read_text()
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, flags=re.S):
        for line in block.splitlines():
            command = re.sub(r'\s+#.*$', '', line).strip()
            if command and not command.startswith('#'):
                commands.append(command)
    return commands


def test_readme_has_commands():
    assert 'make test' in readme_commands()


@pytest.mark.parametrize('command', [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=f'no test runs {c!r}'))
    if c in NOT_EXERCISED else c for c in readme_commands()])
def test_command_is_exercised_or_needs_full_ros(command):
    if command.startswith(FULL_ROS):
        return
    assert command in EXERCISED, (
        f'README command {command!r} is run by no named test or CI script: add it to '
        'EXERCISED (with the test that runs it) or to FULL_ROS')
    name, files = EXERCISED[command]
    for rel in files:
        path = ROOT / rel
        assert path.exists(), f'{rel} (named for {command!r}) does not exist'
        assert name in path.read_text(), f'{rel} does not mention {name!r} ({command!r})'


def test_mapping_names_only_readme_commands():
    stale = (set(EXERCISED) | NOT_EXERCISED) - set(readme_commands())
    assert not stale, f'not in README.md any more: {sorted(stale)}'
