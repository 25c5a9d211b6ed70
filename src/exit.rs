//! Process exit codes, distinct so that systemd (`RestartPreventExitStatus=78`) and
//! scripts can tell a bad configuration from a runtime failure.

/// Everything worked.
pub const OK: i32 = 0;
/// A command ran but its answer is negative (e.g. `ctl` refused by the daemon).
pub const FAILURE: i32 = 1;
/// Bad command-line usage.
pub const USAGE: i32 = 2;
/// `verify`: the evidence verifies, but only against the key found in the store itself
/// (no `--key`/`--identity`, no `--trust-store-key`), so nothing confirms it.
pub const UNCONFIRMED: i32 = 3;
/// The daemon failed at run time (camera, flash, socket); systemd restarts it.
pub const RUNTIME: i32 = 70;
/// The configuration is invalid (sysexits `EX_CONFIG`); restarting will not help.
pub const CONFIG: i32 = 78;
/// `run`: the daemon powered the camera down (battery critical or the power-fail input):
/// the segment is finalised and `power_off` audited, and `power.shutdown_command` was
/// run (whether or not it worked). systemd must not restart it
/// (`RestartPreventExitStatus=78 80`), or a failed power-off would go through the
/// critical battery again and again; systemd/bodycam.service powers off on it
/// (`ExecStopPost=+…`, as root: the daemon itself holds no privilege for that).
pub const POWERED_DOWN: i32 = 80;
