//! Integration tests, one binary: real GStreamer with the simulated camera, real files,
//! sockets, TLS and Azurite. Every module takes its support from [`common`].
//! (`tests/capture_pipeline.rs` stays a binary of its own: it needs no support and runs
//! alone under qemu-aarch64 in CI.)

mod common;

#[cfg(feature = "examiner")]
mod confidential;
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
mod fuzz_corpus;
mod officer_location;
mod officer_peers;
mod officer_power;
mod officer_privacy;
mod officer_triggers;
mod offload;
mod picture;
mod power_cut;
mod recorder;
mod refusals;
mod replay;
#[cfg(feature = "examiner")]
mod spec_decrypter;
mod storage_faults;
mod systemd_notify;
