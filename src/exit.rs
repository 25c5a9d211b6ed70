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
