"""Launch files, parameters, ros2_control configuration, demo, recorder and benchmark."""
