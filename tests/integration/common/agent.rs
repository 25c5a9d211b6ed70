//! Harness for the dock agent tests: Azurite (from npm, installed by scripts/setup.sh
//! into scripts/azurite/node_modules) on a free loopback port, a camera daemon with the dock API and a
//! development PKI, an agent config, and blob inspection through the agent's own
//! `BlobStore`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bodycam::agent::azure::BlobStore;
use bodycam::agent::config::AgentConfig;

use crate::common::{BIN, Daemon, free_port, listening};

/// The well-known Azurite development account and key (published by Microsoft).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service with in-memory storage.
pub struct Azurite {
    child: Child,
    pub port: u16,
    /// Azurite's working directory, removed when the service is dropped.
    _dir: tempfile::TempDir,
}

impl Azurite {
    pub fn start() -> Azurite {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bin = root.join("scripts/azurite/node_modules/.bin/azurite-blob");
        assert!(
            bin.exists(),
            "{} is missing: run scripts/setup.sh (it installs Azurite from npm)",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(&bin)
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let start = Instant::now();
        while !listening(port) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Azurite did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Azurite {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A docked camera daemon with the dock API on a free port, and the development PKI.
pub struct Bay {
    pub daemon: Daemon,
    pub pki: PathBuf,
    pub port: u16,
}

pub fn pki_dev(dir: &Path) {
    let out = Command::new(BIN)
        .args(["pki", "dev"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Bay {
    /// A daemon (not yet started) with the dock API configured; `extra` is merged into
    /// the base config (e.g. `[storage]\ndelete_after_ack = true`).
    pub fn new(extra: &str) -> Bay {
        Bay::with_pki(extra, None)
    }

    /// As [`Bay::new`], sharing an existing development PKI (one agency CA for all bays).
    pub fn with_pki(extra: &str, shared: Option<&Path>) -> Bay {
        let mut daemon = Daemon::new(extra);
        let pki = match shared {
            Some(p) => p.to_path_buf(),
            None => {
                let p = daemon.dir.path().join("pki");
                pki_dev(&p);
                p
            }
        };
        let port = free_port();
        let config = format!(
            "{}\n[dock]\nlisten = \"127.0.0.1:{port}\"\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
            std::fs::read_to_string(&daemon.config).unwrap(),
            pki.join("ca.pem").display(),
            pki.join("camera.pem").display(),
            pki.join("camera.key").display(),
        );
        std::fs::write(&daemon.config, config).unwrap();
        daemon.spawn();
        daemon.wait_state("ready", Duration::from_secs(30));
        Bay { daemon, pki, port }
    }

    /// Record for about `secs` seconds (several 2 s segments), then stop.
    pub fn record(&self, secs: f64) -> String {
        let before = self.daemon.recordings().len();
        self.daemon.ctl_ok(&["record", "start"]);
        self.daemon
            .wait_for("footage", Duration::from_secs(60), |s| {
                s["seconds_recorded"].as_f64() > Some(secs)
            });
        self.daemon.ctl_ok(&["record", "stop"]);
        self.daemon.wait_state("ready", Duration::from_secs(20));
        let recs = self.daemon.recordings();
        assert_eq!(recs.len(), before + 1);
        recs.last()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// Record about `secs` seconds started with `start` and stopped with `stop` (ctl
    /// arguments), adding `markers` markers along the way; returns the recording id.
    pub fn record_with(&self, secs: f64, start: &[&str], stop: &[&str], markers: usize) -> String {
        let before = self.daemon.recordings().len();
        self.daemon.ctl_ok(start);
        self.daemon
            .wait_for("recording", Duration::from_secs(30), |s| {
                s["state"] == "recording"
            });
        for _ in 0..markers {
            self.daemon.ctl_ok(&["marker"]);
        }
        self.daemon
            .wait_for("footage", Duration::from_secs(60), |s| {
                s["seconds_recorded"].as_f64() > Some(secs)
            });
        self.daemon.ctl_ok(stop);
        self.daemon.wait_state("ready", Duration::from_secs(20));
        let recs = self.daemon.recordings();
        assert_eq!(recs.len(), before + 1);
        recs.last()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    pub fn dock(&self) {
        self.daemon.ctl_ok(&["dock"]);
        self.daemon.wait_state("docked", Duration::from_secs(20));
        let start = Instant::now();
        while !listening(self.port) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "dock API not listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn identity(&self) -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.daemon.data.join("keys/identity.json")).unwrap(),
        )
        .unwrap()
    }

    pub fn device_id(&self) -> String {
        self.identity()["device_id"].as_str().unwrap().to_string()
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Closed segments on the camera: (recording, sequence, media path).
    pub fn segment_files(&self) -> Vec<(String, u32, PathBuf)> {
        let mut out = Vec::new();
        for rec in self.daemon.recordings() {
            let id = rec.file_name().unwrap().to_string_lossy().into_owned();
            for e in std::fs::read_dir(&rec).unwrap().filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(".journal") {
                    out.push((
                        id.clone(),
                        stem.parse().unwrap(),
                        rec.join(format!("{stem}.ts")),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    pub fn acked(&self, rec: &str, seq: u32) -> bool {
        self.daemon
            .data
            .join(format!("recordings/{rec}/{seq:06}.ack"))
            .exists()
    }
}

/// An agent config for `bays` (name, url), enrolling `enrolled` identities (JSON from
/// keys/identity.json), with the dock's TLS files from `pki`.
pub struct Agent {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Agent {
    pub fn new(
        azurite: &Azurite,
        pki: &Path,
        bays: &[(&str, String)],
        enrolled: &[serde_json::Value],
    ) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!(
            "state_dir = \"{}\"\ndock_name = \"test-dock\"\nconcurrency = 4\n\
             [tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
            dir.path().join("state").display(),
            pki.join("ca.pem").display(),
            pki.join("dock.pem").display(),
            pki.join("dock.key").display(),
        );
        for (name, url) in bays {
            text.push_str(&format!("[[camera]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
        }
        for e in enrolled {
            text.push_str(&format!(
                "[[enrolled]]\ndevice_id = \"{}\"\npublic_key = \"{}\"\n",
                e["device_id"].as_str().unwrap(),
                e["public_key"].as_str().unwrap()
            ));
        }
        text.push_str(&format!(
            "[azure]\naccount = \"{ACCOUNT}\"\naccess_key = \"{ACCOUNT_KEY}\"\ncontainer = \"bodycam\"\n\
             endpoint = \"{}\"\nallow_http = true\ncreate_container = true\n",
            azurite.endpoint()
        ));
        let config = dir.path().join("dock-agent.toml");
        std::fs::write(&config, text).unwrap();
        Agent { dir, config }
    }

    /// Append `text` (TOML tables such as `[[category]]`) to the agent's config.
    pub fn append_config(&self, text: &str) {
        let mut cfg = std::fs::read_to_string(&self.config).unwrap();
        cfg.push('\n');
        cfg.push_str(text);
        std::fs::write(&self.config, cfg).unwrap();
    }

    /// Add `line` (e.g. `assignment_file = "..."`) to the `[[camera]]` whose url is `url`.
    pub fn set_bay_key(&self, url: &str, line: &str) {
        let cfg = std::fs::read_to_string(&self.config).unwrap();
        let at = format!("url = \"{url}\"\n");
        assert!(cfg.contains(&at), "no bay {url} in the agent config");
        std::fs::write(&self.config, cfg.replacen(&at, &format!("{at}{line}\n"), 1)).unwrap();
    }

    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(BIN)
            .args(["dock-agent", "--config"])
            .arg(&self.config)
            .args(args)
            .env("BODYCAM_LOG", "info")
            .envs(env.iter().copied())
            .output()
            .expect("run bodycam dock-agent")
    }

    pub fn once(&self) -> Output {
        self.run(&["--once"], &[])
    }

    pub fn store(&self) -> BlobStore {
        bodycam::agent::install_crypto_provider();
        let cfg = AgentConfig::load(&self.config).unwrap();
        BlobStore::new(&cfg).unwrap()
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn rt() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn sha256_file(p: &Path) -> String {
    hex::encode(bodycam::evidence::record::sha256(
        &std::fs::read(p).unwrap(),
    ))
}
