#!/usr/bin/env bash
# Install what tests/slurm/up.sh needs (Debian 12): SLURM controller, node
# daemon and client, munge, and slurmdbd + MariaDB for accounting (sacct).
# Package scripts may try to start the services; without systemd they cannot,
# and up.sh starts the daemons itself.
set -euo pipefail
packages=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
installed=$(dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -c "install ok installed" || true)
if [ "$installed" -ne "${#packages[@]}" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    timeout 600 $sudo apt-get -o Acquire::Retries=3 update -qq
    timeout 900 $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
echo "[slurm-install] $(dpkg-query -W -f='${Package} ${Version}\n' slurmctld)" >&2
