"""Launch files, parameters, URDF/ros2_control configuration, demo, recorder and benchmark of exo-vic."""
