#!/bin/sh
# Runs in the guest (crib-vm.service, systemd as PID 1): the selected integration tests against
# the payload's cribd, once per cgroup driver. Its output goes to the serial line; its exit
# status is the lane's.
set -u
echo "CRIB-VM-BEGIN"
echo "guest: kernel $(uname -r), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)," \
    "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "guest: PID 1 is $(cat /proc/1/comm), $(systemctl is-system-running)"
cd /payload/src
export CRIBD=/payload/bin/cribd
rc=0
for driver in cgroupfs systemd; do
    echo "guest: cgroup_manager = $driver"
    # shellcheck disable=SC2046
    CRIB_TEST_CGROUP_MANAGER=$driver /usr/bin/python3 -m pytest -v --color=no -p no:cacheprovider \
        --basetemp="/tmp/vmt-$driver" $(grep -v '^#' "/payload/tests-$driver") || rc=1
done
exit $rc
