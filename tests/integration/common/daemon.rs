//! A real `bodycam run` process on the simulated camera, driven through `bodycam ctl`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `bodycam` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bodycam");

/// Small, fast settings used by every daemon test, with `extra` (TOML) merged over them.
pub fn base_config(data: &Path, extra: &str) -> String {
    let base = format!(
        r#"
[camera]
width = 160
height = 120
framerate = 15
bitrate_kbps = 300
encoder = "x264"
[recording]
segment_seconds = 2
pre_event_seconds = 0
[storage]
path = "{}"
"#,
        data.display()
    );
    let mut table: toml::Table = base.parse().expect("base config");
    let extra: toml::Table = extra.parse().expect("extra config");
    for (section, values) in extra {
        match (table.get_mut(&section), values) {
            (Some(toml::Value::Table(t)), toml::Value::Table(v)) => t.extend(v),
            (_, v) => {
                table.insert(section, v);
            }
        }
    }
    toml::to_string(&table).expect("serialise config")
}

pub struct Daemon {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub data: PathBuf,
    pub log: PathBuf,
    /// Run inside this network namespace (`ip netns exec`), see [`super::netns`].
    pub netns: Option<String>,
}

impl Daemon {
    /// Start a daemon with `extra` config lines (`[camera]\nkey = v` style sections).
    pub fn start(extra: &str) -> Daemon {
        let mut d = Daemon::new(extra);
        d.spawn();
        d
    }

    /// Prepare config and data paths without starting the daemon.
    pub fn new(extra: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        Daemon::with_data(dir, data, extra)
    }

    /// Like [`Daemon::new`], with the store at `data` (e.g. on a filesystem the test
    /// mounted) and the control socket beside the config, off the store.
    pub fn on(data: &Path, extra: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("ctl.sock");
        let extra = format!("{extra}\n[ctl]\nsocket = \"{}\"\n", socket.display());
        Daemon::with_data(dir, data.to_path_buf(), &extra)
    }

    fn with_data(dir: tempfile::TempDir, data: PathBuf, extra: &str) -> Daemon {
        let config = dir.path().join("bodycam.toml");
        std::fs::write(&config, base_config(&data, extra)).expect("write config");
        let log = dir.path().join("daemon.log");
        Daemon {
            child: None,
            dir,
            config,
            data,
            log,
            netns: None,
        }
    }

    /// Prepare a daemon whose config file is exactly `text(data_dir)` (no test
    /// settings merged in: e.g. the developer defaults with only the paths set).
    pub fn new_raw(text: impl FnOnce(&Path) -> String) -> Daemon {
        let d = Daemon::new("");
        std::fs::write(&d.config, text(&d.data)).expect("write config");
        d
    }

    /// (Re)start the daemon process on the same config and data.
    pub fn spawn(&mut self) {
        self.spawn_with_env(&[]);
    }

    /// (Re)start the daemon with extra environment variables.
    pub fn spawn_with_env(&mut self, env: &[(&str, &std::ffi::OsStr)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, BIN]);
                c
            }
            None => Command::new(BIN),
        };
        let child = command
            .args(["run", "--config"])
            .arg(&self.config)
            .env("BODYCAM_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn bodycam run");
        self.child = Some(child);
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Wait for the daemon to exit by itself; panics with the log after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return st;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                panic!("daemon did not exit by itself\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.data.join("evidence/audit.log")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["ctl", "--config"])
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run bodycam ctl")
    }

    /// `ctl` that must succeed.
    pub fn ctl_ok(&self, args: &[&str]) {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "ctl {args:?} failed: {}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
    }

    /// `ctl --json` that the daemon must refuse, exit 1 with `reason`.
    pub fn ctl_refused(&self, args: &[&str], reason: &str) {
        let mut json_args = vec!["--json"];
        json_args.extend_from_slice(args);
        let out = self.ctl(&json_args);
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "ctl {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(out.status.code(), Some(1), "ctl {args:?}: {answer}");
        assert_eq!(answer["refused"], reason, "ctl {args:?}: {answer}");
    }

    pub fn status(&self) -> Option<Value> {
        let out = self.ctl(&["status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Poll status until `pred` holds; panics with the log after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(s) = self.status()
                && pred(&s)
            {
                return s;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out waiting for {what}; last status {:?}\n--- daemon log ---\n{}",
                    self.status(),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_state(&self, state: &str, timeout: Duration) -> Value {
        self.wait_for(&format!("state {state}"), timeout, |s| s["state"] == state)
    }

    /// Send a signal and wait for the exit status.
    pub fn signal(&mut self, sig: i32) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return st;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!(
                    "daemon did not exit after signal {sig}\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `bodycam verify --json --trust-store-key` of the whole store: the exit code, the
    /// report and the report's text (for assertion messages).
    pub fn verify_json(&self) -> (Option<i32>, Value, String) {
        let out = Command::new(BIN)
            .args(["verify", "--json", "--trust-store-key"])
            .arg(&self.data)
            .output()
            .expect("run bodycam verify");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{text}{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report, text)
    }

    /// `bodycam verify` of the whole store against the daemon's own public key (read
    /// from its identity file): the exit status and the report.
    pub fn verify(&self) -> (std::process::ExitStatus, String) {
        let id = std::fs::read_to_string(self.data.join("keys/identity.json")).expect("identity");
        let id: Value = serde_json::from_str(&id).expect("identity JSON");
        let out = Command::new(BIN)
            .arg("verify")
            .arg(&self.data)
            .args(["--key", id["public_key"].as_str().expect("public_key")])
            .output()
            .expect("run bodycam verify");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, report)
    }

    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = match std::fs::read_dir(self.data.join("recordings")) {
            Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
