//! Open body-worn camera firmware.
//!
//! # Layout
//! In pipeline order, from the sensor to the cloud:
//! - [`config`]: the TOML configuration, its defaults and validation.
//! - [`clock`]: monotonic and UTC time, clock synchronisation state.
//! - [`media`]: the encoded frame type shared by capture, buffer and store.
//! - [`capture`]: GStreamer pipelines (simulated, libcamera, v4l2) to encoded frames.
//! - [`replay`]: test only: a camera that replays pre-encoded access units (soak runs).
//! - [`interleave`]: merges audio and video into one decode-time order.
//! - [`prebuffer`]: the pre-event buffer kept in RAM while ready.
//! - [`recorder`]: the pure recorder state machine (events in, actions out).
//! - [`controls`]: button gestures, LED patterns, GPIO and simulated backends.
//! - [`ts`]: MPEG-TS muxing of H.264 + AAC, the TS timeline, and a scanner.
//! - [`layout`]: every on-flash name, its grammar, and the walks over the store.
//! - [`flash`]: the filesystem behind a trait (for the crash double).
//! - [`confidential`]: footage encrypted to the agency's keys on the camera: key files,
//!   wrapped content keys, AEAD chunks, the camera's sealer.
//! - [`store`]: segments on flash: capacity, writing, recovery, offload bookkeeping.
//! - [`evidence`]: signed records, the chains, the audit log and its events, head
//!   statements, sidecars, and `bodycam verify`.
//! - [`dock`]: the mutual-TLS HTTPS API a dock uses to offload footage, and its messages.
//! - `agent` (feature `dock-agent`): `bodycam dock-agent`, the dock side that offloads
//!   docked cameras to Azure Blob Storage.
//! - `export` (feature `examiner`): `bodycam export`, the examiner's side: verify,
//!   decrypt with the agency's private key, remux to MP4, report.
//!
//! Around them:
//! - [`daemon`]: `bodycam run`, the loop that wires the camera's side together.
//! - [`ctl`]: the control socket protocol (server and client).
//! - [`status`]: the status snapshot shown by `bodycam ctl status`.
//! - [`systemd`]: READY / STATUS / WATCHDOG / STOPPING notifications.
//! - [`pki`]: `bodycam pki dev`, a development CA with dock and camera certificates.
//! - [`exit`]: exit codes.
//! - [`fuzzing`]: the entry points of the fuzz targets (`fuzz/`, docs/FUZZING.md).

pub mod config;

pub mod clock;

pub mod media;

pub mod capture;

pub mod replay;

pub mod interleave;

pub mod prebuffer;

pub mod recorder;

pub mod controls;

pub mod ts;

pub mod layout;

pub mod flash;

pub mod confidential;

pub mod store;

pub mod evidence;

pub mod dock;

#[cfg(feature = "dock-agent")]
pub mod agent;

#[cfg(feature = "examiner")]
pub mod export;

pub mod ctl;
pub mod daemon;
pub mod exit;
pub mod fuzzing;
pub mod pki;
pub mod status;
pub mod systemd;
