//! Integration tests, one binary: real GStreamer with the simulated camera, real files,
//! sockets, TLS and Azurite. Every module takes its support from [`common`].
//! (`tests/capture_pipeline.rs` stays a binary of its own: it needs no support and runs
//! alone under qemu-aarch64 in CI.)

mod common;

mod config_cli;
mod crash_consistency;
mod daemon_in_process;
#[cfg(feature = "dock-agent")]
mod dock_agent;
mod dock_api;
mod dock_link;
mod dock_state;
mod evidence_daemon;
mod evidence_verify;
mod offload;
mod power_cut;
mod recorder;
#[cfg(feature = "dock-agent")]
mod station;
mod systemd_notify;
