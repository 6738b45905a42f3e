"""Build script of the exo_contract ament_python package."""

from setuptools import find_packages, setup

package_name = 'exo_contract'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='exo-vic maintainers',
    maintainer_email='maintainers@exo-vic.org',
    description=open('package.xml').read().split('<description>')[1].split('</description>')[0],
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'task_text_relay = exo_contract.task_text_relay:main',
        ],
    },
)
