#!/bin/sh
# ExecStopPost of bodycam.service, run by systemd with full privileges ("+"):
# power the camera off when the daemon exited with 80 (exit::POWERED_DOWN).
# The daemon exits so only after it powered down on its own (battery critical
# or the power-fail input): the open segment finalised, power_off audited. It
# runs as user bodycam with NoNewPrivileges and holds no privilege to power
# off itself; this script is the one place that does, and only on that code.
# Any other stop (SIGTERM, a crash, exit 70 or 78) leaves the camera on.
set -eu
if [ "${EXIT_CODE:-}" = exited ] && [ "${EXIT_STATUS:-}" = 80 ]; then
	# --no-block: poweroff.target stops this very unit, whose ExecStopPost is
	# still running; waiting for the job here would wait for ourselves.
	exec systemctl --no-block poweroff
fi
exit 0
