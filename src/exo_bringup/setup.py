"""Build script of the exo_bringup ament_python package."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'exo_bringup'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/config', glob('config/*')),
        ('share/' + package_name + '/launch', glob('launch/*.py')),
        ('share/' + package_name + '/urdf', glob('urdf/*')),
        ('share/' + package_name + '/security', glob('security/*.xml')),
    ],
    package_data={package_name: ['data/*']},
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='exo-vic maintainers',
    maintainer_email='maintainers@exo-vic.org',
    description=open('package.xml').read().split('<description>')[1].split('</description>')[0],
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'exo_launch = exo_bringup.launcher:main',
            'exo_demo = exo_bringup.demo:main',
            'exo_bench = exo_bringup.bench:main',
            'exo_record = exo_bringup.recorder:main',
            'exo_send_task = exo_bringup.send_task:main',
            'exo_fit_oracle = exo_bringup.fitting:oracle_main',
            'exo_fit_promp = exo_bringup.fitting:promp_main',
            'exo_eval = exo_bringup.evaluation.cli:main',
            'metabolic_node = exo_bringup.metabolic_node:main',
            'exo_sim_analyser = exo_bringup.sim_analyser:main',
            'exo_replay_gas = exo_bringup.gas_replay:main',
            'exo_trial = exo_bringup.trial:main',
            'exo_live_view = exo_bringup.live_view:main',
            'exo_faults = exo_bringup.faults:main',
        ],
    },
)
