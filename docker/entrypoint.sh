#!/usr/bin/env bash
# Source ROS 2 and the exo-vic overlay, then run the command.
set -e
# shellcheck disable=SC1090
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck disable=SC1091
source /ws/install/setup.bash
# A private ROS network unless `docker run -e ...` chose one: the project domain 42 and
# discovery inside the container's network namespace only (with --net=host: this machine).
# A lab network: docker run -e ROS_DOMAIN_ID=17 -e ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET ...
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# Distributions before Jazzy know only ROS_LOCALHOST_ONLY.
case "${ROS_DISTRO}" in
  humble|iron)
    if [ "${ROS_AUTOMATIC_DISCOVERY_RANGE}" = LOCALHOST ] && [ -z "${ROS_LOCALHOST_ONLY:-}" ]; then
      export ROS_LOCALHOST_ONLY=1
    fi ;;
esac
exec "$@"
