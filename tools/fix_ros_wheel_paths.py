"""Make the CMake exports of the ROS 2 PyPI wheels resolve inside this environment.

The Kilted wheels are built in a manylinux image, and their exported CMake targets name
that image's Python include directory and NumPy include directory
(/opt/python/cp311-cp311/...), which do not exist here. This script rewrites those paths
in the environment's share/*/cmake files to the include directories of the running
interpreter, after checking that they exist. It is idempotent and prints what it changed.

Usage: python tools/fix_ros_wheel_paths.py [PREFIX]   (PREFIX defaults to sys.prefix)
"""

import pathlib
import re
import sys
import sysconfig


def main() -> int:
    """Rewrite the manylinux include paths under PREFIX/share; return a shell exit code."""
    prefix = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)
    python_include = pathlib.Path(sysconfig.get_paths()['include'])
    try:
        import numpy
    except ImportError:
        print('fix_ros_wheel_paths: numpy is not installed in this environment', file=sys.stderr)
        return 1
    numpy_include = pathlib.Path(numpy.get_include())
    for path in (python_include, numpy_include):
        if not (path / ('Python.h' if path == python_include else 'numpy')).exists():
            print(f'fix_ros_wheel_paths: expected headers missing under {path}', file=sys.stderr)
            return 1
    pattern = re.compile(
        r'/opt/python/cp3\d+-cp3\d+/(?:include/python3\.\d+'
        r'|lib/python3\.\d+/site-packages/numpy/_core/include)'
    )

    def replace(match: re.Match) -> str:
        return str(numpy_include if 'numpy' in match.group(0) else python_include)

    changed = 0
    for cmake_file in sorted((prefix / 'share').glob('*/cmake/*.cmake')):
        text = cmake_file.read_text()
        new_text = pattern.sub(replace, text)
        if new_text != text:
            cmake_file.write_text(new_text)
            changed += 1
    print(f'fix_ros_wheel_paths: rewrote {changed} CMake files under {prefix / "share"} '
          f'(python include {python_include}, numpy include {numpy_include})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
