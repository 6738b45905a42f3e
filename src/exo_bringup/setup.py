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
            'exo_send_task = exo_bringup.send_task:main',
            'exo_arm = exo_bringup.arming:main',
            'exo_prewear_check = exo_bringup.prewear_check:main',
        ],
    },
)
