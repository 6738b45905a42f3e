# Source me: activates the project's virtual environment and the colcon overlay.
# Usage (from the repository root): source tools/env.sh
_exo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "${_exo_root}/.venv/bin/activate"
export AMENT_PREFIX_PATH="${VIRTUAL_ENV}${AMENT_PREFIX_PATH:+:${AMENT_PREFIX_PATH}}"
# colcon's setup.bash is not written for `set -u`; source it with nounset off.
_exo_nounset=$(set +o | grep nounset)
set +u
# shellcheck disable=SC1091
source "${_exo_root}/install/setup.bash"
eval "${_exo_nounset}"
# Without ros2cli (`ros2 run`), put the packages' console scripts (install/<pkg>/lib/<pkg>,
# e.g. exo_demo, exo_launch, exo_send_task) on PATH.
for _exo_bin in "${_exo_root}"/install/*/lib/exo_*; do
  case ":${PATH}:" in *":${_exo_bin}:"*) ;; *) PATH="${_exo_bin}:${PATH}" ;; esac
done
export PATH
# Headless plots.
export MPLBACKEND="${MPLBACKEND:-Agg}"
# A private ROS network unless the caller chose one (export before sourcing): the project
# domain 42 and discovery on this machine only. For a lab network, e.g.
#   export ROS_DOMAIN_ID=17 ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET; source tools/env.sh
# (the same defaults as exo_launch, the launch files and the Docker entrypoint:
# exo_bringup/graph.py, network_environment).
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
unset _exo_root _exo_nounset _exo_bin
