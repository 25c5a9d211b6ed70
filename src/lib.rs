//! Open body-worn camera firmware.
//!
//! # Layout
//! - [`config`]: the TOML configuration, its defaults and validation.
//! - [`recorder`]: the pure recorder state machine (events in, actions out).
//! - [`capture`]: GStreamer pipelines (simulated, libcamera, v4l2) to encoded frames.
//! - [`media`]: the encoded frame type shared by capture, buffer and store.
//! - [`interleave`]: merges audio and video into one decode-time order.
//! - [`prebuffer`]: the pre-event buffer kept in RAM while ready.
//! - [`ts`]: MPEG-TS muxing of H.264 + AAC, and a scanner for recovery.
//! - [`store`]: segments on flash: layout, capacity, writing, sidecars, recovery.
//! - [`controls`]: button gestures, LED patterns, GPIO and simulated backends.
//! - [`ctl`]: the control socket protocol (server and client).
//! - [`status`]: the status snapshot shown by `bodycam ctl status`.
//! - [`clock`]: monotonic and UTC time, clock synchronisation state.
//! - [`systemd`]: READY / STATUS / WATCHDOG / STOPPING notifications.
//! - [`dock_link`]: the daemon's side of the dock API (backend over the loop).
//! - [`daemon`]: `bodycam run`, the loop that wires everything together.
//! - [`dock`]: the mutual-TLS HTTPS API a dock uses to offload footage and acknowledge it.
//! - [`pki`]: `bodycam pki dev`, a development CA with dock and camera certificates.
//! - [`exit`]: exit codes.
//! - `agent` (feature `dock-agent`): `bodycam dock-agent`, the dock side that offloads
//!   docked cameras to Azure Blob Storage.

#[cfg(feature = "dock-agent")]
pub mod agent;
pub mod capture;
pub mod clock;
pub mod config;
pub mod controls;
pub mod ctl;
pub mod daemon;
pub mod dock;

pub mod evidence;
pub mod exit;
pub mod flash;
pub mod interleave;
pub mod layout;
pub mod media;
pub mod pki;
pub mod prebuffer;
pub mod recorder;
pub mod status;
pub mod store;
pub mod systemd;
pub mod ts;
