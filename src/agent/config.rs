//! The dock agent's TOML configuration (`dock-agent.toml`): cameras to reach, TLS files,
//! the enrolment list and the Azure Blob account. Unknown keys are refused; every error
//! names the key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::evidence::identity::device_id_for;

/// Default retention of `standard` footage, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 31;
/// Most cameras offloaded at once (bays of one dock).
pub const MAX_CONCURRENCY: usize = 64;
/// Default safety margin of the retention job, in hours (docs/DEPLOYMENT.md, "Time").
pub const DEFAULT_RETENTION_MARGIN_HOURS: u32 = 24;
/// Longest retention period a category may have, in days (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// The category every upload starts in.
pub const STANDARD: &str = "standard";
/// The category kept indefinitely (`classify --evidence`).
pub const EVIDENCE: &str = "evidence";
/// Longest category name.
const MAX_CATEGORY_LEN: usize = 32;

/// Why the agent's configuration is unusable (exit code 78).
#[derive(Debug, thiserror::Error)]
pub enum AgentConfigError {
    /// The file cannot be read.
    #[error("cannot read agent config {path}: {source}")]
    Read {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not match the schema.
    #[error("invalid agent config {path}: {message}")]
    Parse {
        /// Path.
        path: PathBuf,
        /// Parser message (names the key and line).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid agent config value `{key}`: {reason}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> AgentConfigError {
    AgentConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Where partial downloads and the per-device offload ledger live.
    pub state_dir: PathBuf,
    /// Name of this dock, recorded in blob metadata (default: the host name).
    #[serde(default)]
    pub dock_name: Option<String>,
    /// Cameras offloaded at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Seconds between passes over the bays when not run with `--once`.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
    /// Set each camera's clock from this machine's before offloading.
    #[serde(default = "default_true")]
    pub set_camera_clock: bool,
    /// Mutual TLS towards the cameras.
    pub tls: TlsConfig,
    /// One per bay.
    #[serde(default, rename = "camera")]
    pub cameras: Vec<CameraEntry>,
    /// Devices this dock accepts footage from.
    #[serde(default, rename = "enrolled")]
    pub enrolled: Vec<Enrolment>,
    /// The cloud store.
    pub azure: AzureConfig,
    /// The category table: each category's retention period (`[[category]]`;
    /// `standard` and `evidence` are always there, see [`AgentConfig::categories`]).
    #[serde(default, rename = "category")]
    pub category_entries: Vec<CategoryEntry>,
    /// The retention job's settings.
    #[serde(default)]
    pub retention: RetentionConfig,
}

/// `[[category]]`: footage classified into `name` is kept `days` days after its upload
/// (no `days`: indefinitely).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryEntry {
    /// 1 to 32 lower-case letters, digits, `-` or `_`, starting with a letter.
    pub name: String,
    /// Days kept after upload (1 to 36500); absent: kept indefinitely.
    #[serde(default)]
    pub days: Option<u32>,
}

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Hours added to every period before anything is deleted, so that neither a
    /// wrong clock nor a slow index can cause early deletion (1 to 720).
    #[serde(default = "default_margin_hours")]
    pub margin_hours: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            margin_hours: DEFAULT_RETENTION_MARGIN_HOURS,
        }
    }
}

fn default_margin_hours() -> u32 {
    DEFAULT_RETENTION_MARGIN_HOURS
}

/// One category of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Its name (the `category` tag).
    pub name: String,
    /// Days kept after upload; `None`: indefinitely.
    pub days: Option<u32>,
}

/// The category table: every category footage may be classified into, with its
/// retention. Always holds `standard` (default `azure.retention_days`) and `evidence`
/// (indefinite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryTable {
    /// In the order of the configuration, `standard` and `evidence` first when implied.
    pub categories: Vec<Category>,
}

impl CategoryTable {
    /// The category called `name`.
    pub fn get(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.name == name)
    }

    /// The names, for messages.
    pub fn names(&self) -> Vec<&str> {
        self.categories.iter().map(|c| c.name.as_str()).collect()
    }
}

/// Whether `s` is a category name (see [`CategoryEntry::name`]).
pub fn category_name_ok(s: &str) -> bool {
    (1..=MAX_CATEGORY_LEN).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn default_concurrency() -> usize {
    8
}
fn default_poll_seconds() -> u64 {
    10
}
fn default_true() -> bool {
    true
}
fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// `[tls]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Agency CA: camera server certificates must chain to it.
    pub ca: PathBuf,
    /// This dock's client certificate (PEM).
    pub cert: PathBuf,
    /// This dock's private key (PEM, mode 0600).
    pub key: PathBuf,
}

/// `[[camera]]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraEntry {
    /// Bay name shown in progress and summaries.
    pub name: String,
    /// Base URL of the camera's dock API, e.g. `https://10.55.0.1:8443`.
    pub url: String,
    /// Network interface to reach it through (the bay's USB link, e.g. `usb-bay1`):
    /// every camera answers at the same gadget address, so a multi-bay dock binds each
    /// connection to its bay's interface (SO_BINDTODEVICE; needs CAP_NET_RAW).
    #[serde(default)]
    pub interface: Option<String>,
    /// A file naming the officer that a camera docked in this bay is assigned to (one
    /// officer id on the first line; empty: leave the assignment alone). The agent
    /// applies it each time a camera docks whose assignment differs.
    #[serde(default)]
    pub assignment_file: Option<PathBuf>,
}

/// `[[enrolled]]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// Device id, 32 hex digits (`bodycam identity`).
    pub device_id: String,
    /// Ed25519 public key, 64 hex digits.
    pub public_key: String,
}

/// `[azure]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureConfig {
    /// Storage account name.
    pub account: String,
    /// Shared key, base64 (prefer `access_key_file`).
    #[serde(default)]
    pub access_key: Option<String>,
    /// File holding the shared key (mode 0600).
    #[serde(default)]
    pub access_key_file: Option<PathBuf>,
    /// Container name.
    #[serde(default = "default_container")]
    pub container: String,
    /// Blob endpoint including the account for path-style endpoints (Azurite:
    /// `http://127.0.0.1:10000/devstoreaccount1`); default `https://ACCOUNT.blob.core.windows.net`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Permit a plain-HTTP endpoint (the emulator on loopback only).
    #[serde(default)]
    pub allow_http: bool,
    /// Create the container if it does not exist.
    #[serde(default)]
    pub create_container: bool,
    /// Minimum days `standard` footage is kept (recorded in blob metadata).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// On `classify --evidence`, also place a per-blob legal hold (needs version-level
    /// immutability on the container; see docs/DEPLOYMENT.md).
    #[serde(default)]
    pub legal_hold: bool,
}

fn default_container() -> String {
    "bodycam".into()
}

/// An enrolled device, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledDevice {
    /// Device id, lower-case hex.
    pub device_id: String,
    /// Public key bytes.
    pub public_key: [u8; 32],
}

impl AgentConfig {
    /// Read, parse and validate `path`. Relative paths inside are taken relative to the
    /// file's directory.
    pub fn load(path: &Path) -> Result<AgentConfig, AgentConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| AgentConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c: AgentConfig = toml::from_str(&text).map_err(|e| AgentConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut c.state_dir,
            &mut c.tls.ca,
            &mut c.tls.cert,
            &mut c.tls.key,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(p) = c.azure.access_key_file.as_mut()
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        for cam in &mut c.cameras {
            if let Some(p) = cam.assignment_file.as_mut()
                && p.is_relative()
            {
                *p = base.join(&*p);
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Check values and cross-field consistency.
    pub fn validate(&self) -> Result<(), AgentConfigError> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(invalid(
                "concurrency",
                format!("must be 1 to {MAX_CONCURRENCY}, got {}", self.concurrency),
            ));
        }
        if self.poll_seconds == 0 || self.poll_seconds > 3600 {
            return Err(invalid("poll_seconds", "must be 1 to 3600"));
        }
        self.validate_cameras()?;
        self.enrolled_devices()?;
        self.azure.validate()?;
        self.categories()?;
        if !(1..=720).contains(&self.retention.margin_hours) {
            return Err(invalid("retention.margin_hours", "must be 1 to 720"));
        }
        if let Some(d) = &self.dock_name
            && (d.is_empty() || d.len() > 64 || !d.is_ascii() || d.chars().any(char::is_control))
        {
            return Err(invalid(
                "dock_name",
                "must be 1 to 64 printable ASCII characters",
            ));
        }
        Ok(())
    }

    /// Every bay: a unique name, an https URL, an interface name if bound to one.
    fn validate_cameras(&self) -> Result<(), AgentConfigError> {
        let mut names = BTreeSet::new();
        for (i, cam) in self.cameras.iter().enumerate() {
            let key = format!("camera[{i}]");
            if cam.name.is_empty() || cam.name.len() > 64 || cam.name.chars().any(char::is_control)
            {
                return Err(invalid(
                    format!("{key}.name"),
                    "must be 1 to 64 characters without control characters",
                ));
            }
            if !names.insert(cam.name.as_str()) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("{:?} is used twice", cam.name),
                ));
            }
            let ok = reqwest::Url::parse(&cam.url)
                .ok()
                .is_some_and(|u| u.scheme() == "https" && u.host().is_some());
            if let Some(ifname) = &cam.interface {
                let good = (1..=15).contains(&ifname.len())
                    && ifname
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                if !good {
                    return Err(invalid(
                        format!("{key}.interface"),
                        "must be an interface name of 1 to 15 letters, digits, '-', '_' or '.'",
                    ));
                }
            }
            if !ok {
                return Err(invalid(
                    format!("{key}.url"),
                    format!("{:?} is not an https:// URL with a host", cam.url),
                ));
            }
        }
        Ok(())
    }
}

impl AzureConfig {
    /// Account and container names as Azure allows them, exactly one shared key, an
    /// https endpoint (http only for the emulator), a sane retention.
    fn validate(&self) -> Result<(), AgentConfigError> {
        let a = self;
        let name_ok = |s: &str, min, max| {
            (min..=max).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !name_ok(&a.account, 3, 24) || a.account.contains('-') {
            return Err(invalid(
                "azure.account",
                "must be 3 to 24 lower-case letters and digits",
            ));
        }
        if !name_ok(&a.container, 3, 63)
            || a.container.starts_with('-')
            || a.container.ends_with('-')
            || a.container.contains("--")
        {
            return Err(invalid(
                "azure.container",
                "must be 3 to 63 lower-case letters, digits and single hyphens",
            ));
        }
        match (&a.access_key, &a.access_key_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "azure.access_key",
                    "give either access_key or access_key_file, not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "azure.access_key_file",
                    "a shared key is required (access_key_file or access_key)",
                ));
            }
            (Some(_), None) | (None, Some(_)) => {}
        }
        if let Some(ep) = &a.endpoint {
            match reqwest::Url::parse(ep) {
                Ok(u) if u.scheme() == "https" => {}
                Ok(u) if u.scheme() == "http" && a.allow_http => {}
                Ok(u) if u.scheme() == "http" => {
                    return Err(invalid(
                        "azure.endpoint",
                        "plain http:// needs azure.allow_http = true (emulator only)",
                    ));
                }
                Ok(_) | Err(_) => {
                    return Err(invalid(
                        "azure.endpoint",
                        format!("{ep:?} is not an http(s) URL"),
                    ));
                }
            }
        }
        if a.retention_days == 0 || a.retention_days > 36_500 {
            return Err(invalid("azure.retention_days", "must be 1 to 36500"));
        }
        Ok(())
    }
}

impl AgentConfig {
    /// The category table: `[[category]]` plus `standard` (with `azure.retention_days`)
    /// and `evidence` (indefinite) unless listed. A listed `standard` must agree with
    /// `azure.retention_days` when that is set to other than its default; a listed
    /// `evidence` must be indefinite.
    pub fn categories(&self) -> Result<CategoryTable, AgentConfigError> {
        let mut out: Vec<Category> = Vec::new();
        for (i, e) in self.category_entries.iter().enumerate() {
            let key = format!("category[{i}]");
            if !category_name_ok(&e.name) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!(
                        "{:?}: use 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter",
                        e.name
                    ),
                ));
            }
            if out.iter().any(|c| c.name == e.name) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("{:?} is listed twice", e.name),
                ));
            }
            if let Some(d) = e.days
                && !(1..=MAX_RETENTION_DAYS).contains(&d)
            {
                return Err(invalid(
                    format!("{key}.days"),
                    format!("must be 1 to {MAX_RETENTION_DAYS} (leave it out for indefinite)"),
                ));
            }
            if e.name == EVIDENCE && e.days.is_some() {
                return Err(invalid(
                    format!("{key}.days"),
                    "evidence is kept indefinitely: leave days out",
                ));
            }
            if e.name == STANDARD {
                match e.days {
                    None => {
                        return Err(invalid(
                            format!("{key}.days"),
                            "standard needs a number of days (it is what retention deletes)",
                        ));
                    }
                    Some(d)
                        if self.azure.retention_days != DEFAULT_RETENTION_DAYS
                            && d != self.azure.retention_days =>
                    {
                        return Err(invalid(
                            format!("{key}.days"),
                            format!(
                                "standard has {d} days but azure.retention_days is {}; give one or make them equal",
                                self.azure.retention_days
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            out.push(Category {
                name: e.name.clone(),
                days: e.days,
            });
        }
        let mut implied = Vec::new();
        if !out.iter().any(|c| c.name == STANDARD) {
            implied.push(Category {
                name: STANDARD.into(),
                days: Some(self.azure.retention_days),
            });
        }
        if !out.iter().any(|c| c.name == EVIDENCE) {
            implied.push(Category {
                name: EVIDENCE.into(),
                days: None,
            });
        }
        implied.extend(out);
        Ok(CategoryTable {
            categories: implied,
        })
    }

    /// The enrolment list, parsed; each public key must match its device id.
    pub fn enrolled_devices(&self) -> Result<Vec<EnrolledDevice>, AgentConfigError> {
        let mut out = Vec::with_capacity(self.enrolled.len());
        for (i, e) in self.enrolled.iter().enumerate() {
            let key = hex::decode(e.public_key.trim())
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or_else(|| {
                    invalid(
                        format!("enrolled[{i}].public_key"),
                        "must be 64 hex digits (an Ed25519 public key)",
                    )
                })?;
            let id = e.device_id.trim().to_ascii_lowercase();
            let derived = hex::encode(device_id_for(&key));
            if id != derived {
                return Err(invalid(
                    format!("enrolled[{i}].device_id"),
                    format!("{id:?} is not the id of that public key ({derived})"),
                ));
            }
            if out.iter().any(|d: &EnrolledDevice| d.device_id == id) {
                return Err(invalid(
                    format!("enrolled[{i}].device_id"),
                    format!("{id} is enrolled twice"),
                ));
            }
            out.push(EnrolledDevice {
                device_id: id,
                public_key: key,
            });
        }
        Ok(out)
    }

    /// The shared key (from the file or the inline value), trimmed.
    pub fn access_key(&self) -> Result<String, AgentConfigError> {
        match (&self.azure.access_key, &self.azure.access_key_file) {
            (Some(k), _) => Ok(k.trim().to_string()),
            (None, Some(p)) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    invalid(
                        "azure.access_key_file",
                        format!("cannot read {}: {e}", p.display()),
                    )
                }),
            (None, None) => Err(invalid("azure.access_key_file", "missing")),
        }
    }

    /// The dock's name for blob metadata.
    pub fn dock_name(&self) -> String {
        self.dock_name.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .map(|s| s.trim().to_string())
                .ok()
                .filter(|s| !s.is_empty() && s.is_ascii())
                .unwrap_or_else(|| "dock".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

    fn config(extra: &str) -> String {
        let id = hex::encode(device_id_for(&hex::decode(KEY).unwrap()));
        format!(
            "state_dir = \"state\"\n{extra}\n[tls]\nca = \"ca.pem\"\ncert = \"dock.pem\"\nkey = \"dock.key\"\n\
             [[camera]]\nname = \"bay1\"\nurl = \"https://127.0.0.1:8443\"\n\
             [[enrolled]]\ndevice_id = \"{id}\"\npublic_key = \"{KEY}\"\n\
             [azure]\naccount = \"devstoreaccount1\"\naccess_key = \"a2V5\"\n"
        )
    }

    fn load(text: &str) -> Result<AgentConfig, AgentConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.toml");
        std::fs::write(&p, text).unwrap();
        AgentConfig::load(&p)
    }

    #[test]
    fn a_minimal_config_loads_with_defaults_and_resolves_paths() {
        let c = load(&config("")).unwrap();
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.azure.container, "bodycam");
        assert_eq!(c.azure.retention_days, 31);
        assert!(c.tls.ca.is_absolute());
        assert_eq!(c.enrolled_devices().unwrap().len(), 1);
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            (config("bogus = 1"), "bogus"),
            (config("concurrency = 0"), "concurrency"),
            (
                config("").replace("https://127.0.0.1:8443", "http://x"),
                "camera[0].url",
            ),
            (
                config("").replace(KEY, &"00".repeat(32)),
                "enrolled[0].device_id",
            ),
            (config("").replace(KEY, "zz"), "enrolled[0].public_key"),
            (
                config("").replace("devstoreaccount1", "Bad_Account"),
                "azure.account",
            ),
            (
                config("") + "endpoint = \"http://127.0.0.1:10000/devstoreaccount1\"\n",
                "azure.endpoint",
            ),
            (config("") + "container = \"a--b\"\n", "azure.container"),
            (config("") + "access_key_file = \"k\"\n", "azure.access_key"),
            (
                config("") + "[[camera]]\nname = \"bay1\"\nurl = \"https://127.0.0.1:9\"\n",
                "camera[1].name",
            ),
        ];
        for (text, key) in cases {
            let e = load(&text).expect_err(key).to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn the_category_table_always_has_standard_and_evidence() {
        let c = load(&config("")).unwrap();
        let t = c.categories().unwrap();
        assert_eq!(t.names(), ["standard", "evidence"]);
        assert_eq!(t.get("standard").unwrap().days, Some(31));
        assert_eq!(t.get("evidence").unwrap().days, None);
        assert_eq!(c.retention.margin_hours, 24);
        let text = config("")
            + "[[category]]\nname = \"traffic\"\ndays = 90\n\
               [[category]]\nname = \"standard\"\ndays = 40\n\
               [[category]]\nname = \"homicide\"\n";
        let t = load(&text).unwrap().categories().unwrap();
        assert_eq!(t.names(), ["evidence", "traffic", "standard", "homicide"]);
        assert_eq!(t.get("standard").unwrap().days, Some(40));
        assert_eq!(t.get("homicide").unwrap().days, None);
        let bad = [
            (
                "[[category]]\nname = \"Traffic\"\ndays = 1\n",
                "category[0].name",
            ),
            ("[[category]]\nname = \"a/b\"\n", "category[0].name"),
            ("[[category]]\nname = \"x\"\ndays = 0\n", "category[0].days"),
            (
                "[[category]]\nname = \"evidence\"\ndays = 9\n",
                "category[0].days",
            ),
            ("[[category]]\nname = \"standard\"\n", "category[0].days"),
            (
                "[[category]]\nname = \"x\"\n[[category]]\nname = \"x\"\n",
                "category[1].name",
            ),
            ("[retention]\nmargin_hours = 0\n", "retention.margin_hours"),
        ];
        for (extra, key) in bad {
            let e = load(&(config("") + extra)).expect_err(key).to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
        let clash =
            config("") + "retention_days = 60\n[[category]]\nname = \"standard\"\ndays = 31\n";
        let e = load(&clash).unwrap_err().to_string();
        assert!(e.contains("azure.retention_days"), "{e}");
    }

    #[test]
    fn http_endpoint_is_allowed_only_when_asked_for() {
        let text = config("")
            + "endpoint = \"http://127.0.0.1:10000/devstoreaccount1\"\nallow_http = true\n";
        assert!(load(&text).is_ok());
    }
}
