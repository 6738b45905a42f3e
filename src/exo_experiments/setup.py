"""Build script of the exo_experiments ament_python package."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'exo_experiments'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/' + package_name + '/config', glob('config/*')),
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
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
            'exo_demo = exo_experiments.demo:main',
            'exo_bench = exo_experiments.bench:main',
            'exo_record = exo_experiments.recorder:main',
            'exo_fit_oracle = exo_experiments.fitting:oracle_main',
            'exo_fit_promp = exo_experiments.fitting:promp_main',
            'exo_eval = exo_experiments.evaluation.cli:main',
            'exo_trial = exo_experiments.trial:main',
            'exo_live_view = exo_experiments.live_view:main',
            'exo_faults = exo_experiments.faults:main',
        ],
    },
)
