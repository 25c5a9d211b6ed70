//! Azure Blob Storage for the dock agent: uploads, read-back and listing through
//! `object_store`; the operations it does not offer (create container, blob index
//! tags, Find Blobs by Tags, a listing with tags and creation times, metadata update,
//! legal hold, append blobs, delete) as Shared Key-signed REST calls. Every request is
//! counted ([`BlobStore::requests`]) for the retention benchmark.
//!
//! Blobs are only ever created with `If-None-Match: *` ([`PutMode::Create`]): nothing
//! the agent writes can replace an existing blob, so a rerun after a crash can never
//! overwrite footage, and two agents racing on one segment produce one blob.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::StreamExt;
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path as BlobPath;
use object_store::{
    Attribute, Attributes, ClientOptions, GetOptions, ObjectStore, PutMode, PutOptions, PutPayload,
    TagSet,
};
use reqwest::{Method, StatusCode};

use super::config::AgentConfig;

/// REST API version sent with the calls made here (blob tags need 2019-12-12, legal
/// holds 2020-06-12).
const API_VERSION: &str = "2021-08-06";

/// Blob store failures.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The store could not be set up from the configuration.
    #[error("azure: {0}")]
    Setup(String),
    /// A request failed (network, authentication, service error).
    #[error("azure: {what} {blob}: {reason}")]
    Request {
        /// Operation.
        what: &'static str,
        /// Blob or container.
        blob: String,
        /// Cause.
        reason: String,
    },
}

fn req_err(what: &'static str, blob: &str, reason: impl ToString) -> BlobError {
    BlobError::Request {
        what,
        blob: blob.to_string(),
        reason: reason.to_string(),
    }
}

/// What [`BlobStore::put_new`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The blob was created.
    Created,
    /// A blob of that name already existed; it was left untouched.
    AlreadyExists,
}

/// A blob read back: the SHA-256 of its bytes, its length and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// SHA-256 of the stored bytes, lower-case hex.
    pub sha256: String,
    /// Length in bytes.
    pub len: u64,
    /// User metadata (`x-ms-meta-*`).
    pub metadata: BTreeMap<String, String>,
}

/// A blob as a listing with tags shows it ([`BlobStore::list_detailed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Name.
    pub name: String,
    /// Creation time, as the service recorded it.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    /// Length in bytes.
    pub len: u64,
    /// Blob index tags.
    pub tags: BTreeMap<String, String>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Whether a legal hold is set (version-level immutability; the emulator never
    /// reports one).
    pub legal_hold: bool,
}

/// One entry of a listing with `include=versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobVersion {
    /// Blob name.
    pub name: String,
    /// Its version id (`None`: the container keeps no versions).
    pub version_id: Option<String>,
    /// Whether this is the current version (`IsCurrentVersion`; a blob without
    /// versions is its own current one).
    pub current: bool,
}

/// The blobs of one List Blobs page with `include=metadata,tags,legalhold`.
fn parse_listing(text: &str) -> Vec<BlobInfo> {
    xml::elements(text, "Blob")
        .into_iter()
        .filter_map(|b| {
            let name = xml::first(b, "Name")?;
            let props = xml::first_raw(b, "Properties").unwrap_or("");
            Some(BlobInfo {
                name,
                created: xml::first(props, "Creation-Time").and_then(|t| {
                    chrono::DateTime::parse_from_rfc2822(&t)
                        .ok()
                        .map(|d| d.with_timezone(&chrono::Utc))
                }),
                len: xml::first(props, "Content-Length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
                tags: xml::first_raw(b, "Tags").map_or_else(BTreeMap::new, parse_tags),
                metadata: xml::first_raw(b, "Metadata")
                    .map(xml::children)
                    .unwrap_or_default(),
                legal_hold: xml::first(props, "LegalHold").as_deref() == Some("true"),
            })
        })
        .collect()
}

/// The versions a List Blobs answer with `include=versions` names: per `<Blob>`, its
/// `<Name>`, `<VersionId>` and `<IsCurrentVersion>`.
pub fn parse_versions(text: &str) -> Vec<BlobVersion> {
    xml::elements(text, "Blob")
        .into_iter()
        .filter_map(|b| {
            let name = xml::first(b, "Name")?;
            let version_id = xml::first(b, "VersionId").filter(|v| !v.is_empty());
            let current = match (&version_id, xml::first(b, "IsCurrentVersion")) {
                (None, _) => true,
                (Some(_), Some(c)) => c == "true",
                (Some(_), None) => false,
            };
            Some(BlobVersion {
                name,
                version_id,
                current,
            })
        })
        .collect()
}

/// One blob found by Find Blobs by Tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Name.
    pub name: String,
    /// The tags the expression matched.
    pub tags: BTreeMap<String, String>,
}

/// Extra standard headers a REST call signs and sends.
#[derive(Debug, Default, Clone, Copy)]
struct Std<'a> {
    /// `If-None-Match` (`*`: create only).
    if_none_match: &'a str,
    /// `Content-Type` of the body (default `application/xml` for a non-empty body).
    content_type: Option<&'a str>,
}

/// One container of one storage account.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<MicrosoftAzure>,
    http: reqwest::Client,
    account: String,
    key: Arc<Vec<u8>>,
    /// Account endpoint without a trailing slash (path-style for the emulator).
    endpoint: String,
    container: String,
    /// Requests sent so far (all clones share it).
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("endpoint", &self.endpoint)
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

impl BlobStore {
    /// Set up from the agent configuration (does not contact the service).
    pub fn new(cfg: &AgentConfig) -> Result<BlobStore, BlobError> {
        let a = &cfg.azure;
        let key_b64 = cfg
            .access_key()
            .map_err(|e| BlobError::Setup(e.to_string()))?;
        let key = B64
            .decode(key_b64.as_bytes())
            .map_err(|_| BlobError::Setup("the shared key is not base64".into()))?;
        let endpoint = a
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", a.account))
            .trim_end_matches('/')
            .to_string();
        let options = ClientOptions::new()
            .with_allow_http(a.allow_http)
            .with_timeout(std::time::Duration::from_secs(300))
            .with_connect_timeout(std::time::Duration::from_secs(10));
        let store = MicrosoftAzureBuilder::new()
            .with_account(&a.account)
            .with_access_key(&key_b64)
            .with_container_name(&a.container)
            .with_endpoint(endpoint.clone())
            .with_client_options(options)
            .build()
            .map_err(|e| BlobError::Setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| BlobError::Setup(format!("HTTP client: {e}")))?;
        Ok(BlobStore {
            store: Arc::new(store),
            http,
            account: a.account.clone(),
            key: Arc::new(key),
            endpoint,
            container: a.container.clone(),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Requests sent to the service so far, by this store and its clones.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// `container/blob`, the name an acknowledgement reports.
    pub fn qualified(&self, blob: &str) -> String {
        format!("{}/{blob}", self.container)
    }

    /// Create the container unless it exists.
    pub async fn ensure_container(&self) -> Result<(), BlobError> {
        let url = format!("{}/{}?restype=container", self.endpoint, self.container);
        let resp = self
            .rest(Method::PUT, &url, &[], Vec::new())
            .await
            .map_err(|e| req_err("create container", &self.container, e))?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::CONFLICT => Ok(()),
            s => Err(req_err(
                "create container",
                &self.container,
                format!("HTTP {s}: {}", resp.text().await.unwrap_or_default()),
            )),
        }
    }

    /// Create `blob` with `data`, metadata and index tags, unless it exists (then it is
    /// left as it is: [`Put::AlreadyExists`]).
    pub async fn put_new(
        &self,
        blob: &str,
        data: bytes::Bytes,
        content_type: &str,
        metadata: &[(&str, String)],
        tags: &[(&str, &str)],
    ) -> Result<Put, BlobError> {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_string().into());
        for (k, v) in metadata {
            attributes.insert(Attribute::Metadata(k.to_string().into()), v.clone().into());
        }
        let mut tag_set = TagSet::default();
        for (k, v) in tags {
            tag_set.push(k, v);
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            tags: tag_set,
            attributes,
            ..PutOptions::default()
        };
        self.count();
        match self
            .store
            .put_opts(&BlobPath::from(blob), PutPayload::from_bytes(data), opts)
            .await
        {
            Ok(_) => Ok(Put::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Put::AlreadyExists),
            Err(e) => Err(req_err("put", blob, e)),
        }
    }

    /// Read `blob` back in full and hash it; `None` if it does not exist.
    pub async fn read_back(&self, blob: &str) -> Result<Option<Stored>, BlobError> {
        self.count();
        let got = match self
            .store
            .get_opts(&BlobPath::from(blob), GetOptions::default())
            .await
        {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(req_err("get", blob, e)),
        };
        let metadata = user_metadata(&got.attributes);
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut len = 0u64;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| req_err("read back", blob, e))?;
            len += chunk.len() as u64;
            ctx.update(&chunk);
        }
        Ok(Some(Stored {
            sha256: hex::encode(ctx.finish()),
            len,
            metadata,
        }))
    }

    /// The blob's bytes; `None` if it does not exist.
    pub async fn get(&self, blob: &str) -> Result<Option<bytes::Bytes>, BlobError> {
        self.count();
        match self
            .store
            .get_opts(&BlobPath::from(blob), GetOptions::default())
            .await
        {
            Ok(g) => g
                .bytes()
                .await
                .map(Some)
                .map_err(|e| req_err("get", blob, e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(req_err("get", blob, e)),
        }
    }

    /// The blob's user metadata (a HEAD request); `None` if it does not exist.
    pub async fn metadata(
        &self,
        blob: &str,
    ) -> Result<Option<BTreeMap<String, String>>, BlobError> {
        let opts = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        self.count();
        match self.store.get_opts(&BlobPath::from(blob), opts).await {
            Ok(g) => Ok(Some(user_metadata(&g.attributes))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(req_err("head", blob, e)),
        }
    }

    /// Names of every blob under `prefix` (a `/`-terminated folder).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let p = BlobPath::from(prefix.trim_end_matches('/'));
        self.count();
        let mut out = Vec::new();
        let mut s = self.store.list(Some(&p));
        while let Some(m) = s.next().await {
            out.push(
                m.map_err(|e| req_err("list", prefix, e))?
                    .location
                    .to_string(),
            );
        }
        out.sort();
        Ok(out)
    }

    /// Replace the blob's index tags.
    pub async fn set_tags(&self, blob: &str, tags: &[(&str, &str)]) -> Result<(), BlobError> {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><Tags><TagSet>");
        for (k, v) in tags {
            xml.push_str(&format!(
                "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                xml_escape(k),
                xml_escape(v)
            ));
        }
        xml.push_str("</TagSet></Tags>");
        let url = format!("{}?comp=tags", self.blob_url(blob));
        self.expect_ok("set tags", blob, Method::PUT, &url, &[], xml.into_bytes())
            .await
            .map(drop)
    }

    /// The blob's index tags.
    pub async fn get_tags(&self, blob: &str) -> Result<BTreeMap<String, String>, BlobError> {
        let url = format!("{}?comp=tags", self.blob_url(blob));
        let body = self
            .expect_ok("get tags", blob, Method::GET, &url, &[], Vec::new())
            .await?;
        Ok(parse_tags(&body))
    }

    /// Replace the blob's user metadata.
    pub async fn set_metadata(
        &self,
        blob: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), BlobError> {
        let headers: Vec<(String, String)> = metadata
            .iter()
            .map(|(k, v)| (format!("x-ms-meta-{k}"), v.clone()))
            .collect();
        let url = format!("{}?comp=metadata", self.blob_url(blob));
        self.expect_ok(
            "set metadata",
            blob,
            Method::PUT,
            &url,
            &headers,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// Place a legal hold on the blob (version-level immutability must be enabled).
    pub async fn set_legal_hold(&self, blob: &str) -> Result<(), BlobError> {
        let url = format!("{}?comp=legalhold", self.blob_url(blob));
        let headers = [("x-ms-legal-hold".to_string(), "true".to_string())];
        self.expect_ok(
            "set legal hold",
            blob,
            Method::PUT,
            &url,
            &headers,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// Clear the blob's legal hold.
    pub async fn clear_legal_hold(&self, blob: &str) -> Result<(), BlobError> {
        let url = format!("{}?comp=legalhold", self.blob_url(blob));
        let headers = [("x-ms-legal-hold".to_string(), "false".to_string())];
        self.expect_ok(
            "clear legal hold",
            blob,
            Method::PUT,
            &url,
            &headers,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// Find Blobs by Tags in this container (every page): the blobs whose index tags
    /// match `expression`, e.g. `"retention" < '2026-11-25T00:00:00Z'`. Also returns the
    /// service's clock (`Date` of the first answer), when it sent one.
    pub async fn find_by_tags(
        &self,
        expression: &str,
    ) -> Result<(Vec<Found>, Option<chrono::DateTime<chrono::Utc>>), BlobError> {
        let mut out = Vec::new();
        let query = [("comp", "blobs"), ("where", expression)];
        let date = self
            .pages("find blobs by tags", &self.container, &query, |text| {
                for b in xml::elements(text, "Blob") {
                    if let Some(name) = xml::first(b, "Name") {
                        out.push(Found {
                            name,
                            tags: xml::first_raw(b, "Tags").map_or_else(BTreeMap::new, parse_tags),
                        });
                    }
                }
            })
            .await?;
        Ok((out, date))
    }

    /// Every blob under `prefix` with its creation time, length, tags, metadata and
    /// legal-hold flag (List Blobs, `include=metadata,tags,legalhold`, every page).
    pub async fn list_detailed(&self, prefix: &str) -> Result<Vec<BlobInfo>, BlobError> {
        Ok(self.list_detailed_dated(prefix).await?.0)
    }

    /// [`Self::list_detailed`], with the service's clock (`Date` of the first answer)
    /// when it sent one.
    pub async fn list_detailed_dated(
        &self,
        prefix: &str,
    ) -> Result<(Vec<BlobInfo>, Option<chrono::DateTime<chrono::Utc>>), BlobError> {
        let mut out = Vec::new();
        let query = [
            ("comp", "list"),
            ("prefix", prefix),
            ("include", "metadata,tags,legalhold"),
        ];
        let date = self
            .pages("list", prefix, &query, |text| {
                out.extend(parse_listing(text))
            })
            .await?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((out, date))
    }

    /// Every stored version under `prefix` (List Blobs, `include=versions`, every page).
    /// A container without versioning lists each blob once, without a version id.
    pub async fn list_versions(&self, prefix: &str) -> Result<Vec<BlobVersion>, BlobError> {
        let mut out = Vec::new();
        let query = [
            ("comp", "list"),
            ("prefix", prefix),
            ("include", "versions"),
        ];
        self.pages("list versions", prefix, &query, |text| {
            out.extend(parse_versions(text))
        })
        .await?;
        Ok(out)
    }

    /// Every page of a GET on the container with `query` (List Blobs, Find Blobs by
    /// Tags), following `NextMarker`; each page's XML goes to `page`. Returns the
    /// service's clock (`Date` of the first answer), when it sent one. `subject` names
    /// what is listed in errors.
    async fn pages(
        &self,
        what: &'static str,
        subject: &str,
        query: &[(&str, &str)],
        mut page: impl FnMut(&str),
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, BlobError> {
        let mut marker: Option<String> = None;
        let mut date = None;
        loop {
            let mut url = reqwest::Url::parse(&format!("{}/{}", self.endpoint, self.container))
                .map_err(|e| req_err(what, subject, e))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("restype", "container");
                for (k, v) in query {
                    q.append_pair(k, v);
                }
                if let Some(m) = &marker {
                    q.append_pair("marker", m);
                }
            }
            let (text, d) = self.get_xml(what, url).await?;
            date = date.or(d);
            page(&text);
            marker = xml::first(&text, "NextMarker").filter(|m| !m.is_empty());
            if marker.is_none() {
                return Ok(date);
            }
        }
    }

    /// Delete one version of `blob` (Delete Blob with `versionid`). A version that is
    /// not there counts as deleted (`false`).
    pub async fn delete_version(&self, blob: &str, version_id: &str) -> Result<bool, BlobError> {
        let what = "delete version";
        let mut url =
            reqwest::Url::parse(&self.blob_url(blob)).map_err(|e| req_err(what, blob, e))?;
        url.query_pairs_mut().append_pair("versionid", version_id);
        let resp = self
            .rest(Method::DELETE, url.as_str(), &[], Vec::new())
            .await
            .map_err(|e| req_err(what, blob, e))?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(req_err(
                what,
                &format!("{blob} version {version_id}"),
                format!("HTTP {s}: {}", resp.text().await.unwrap_or_default()),
            )),
        }
    }

    /// Delete the blob (`x-ms-delete-snapshots: include`). A blob that is not there
    /// counts as deleted (`false`), so that an interrupted run can be repeated.
    pub async fn delete(&self, blob: &str) -> Result<bool, BlobError> {
        let url = self.blob_url(blob);
        let headers = [("x-ms-delete-snapshots".to_string(), "include".to_string())];
        let resp = self
            .rest(Method::DELETE, &url, &headers, Vec::new())
            .await
            .map_err(|e| req_err("delete", blob, e))?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(req_err(
                "delete",
                blob,
                format!("HTTP {s}: {}", resp.text().await.unwrap_or_default()),
            )),
        }
    }

    /// Append `line` to the append blob `blob`. `exists`: the caller saw the blob, so
    /// try the append first (one request); otherwise, or when the append finds no blob,
    /// create it first (Put Blob with `If-None-Match: *`, so an existing log is never
    /// replaced).
    pub async fn append(&self, blob: &str, line: &[u8], exists: bool) -> Result<(), BlobError> {
        if exists {
            match self.append_block(blob, line).await? {
                StatusCode::NOT_FOUND => {}
                _ => return Ok(()),
            }
        }
        self.create_append_blob(blob).await?;
        match self.append_block(blob, line).await? {
            StatusCode::NOT_FOUND => Err(req_err("append", blob, "HTTP 404 after creating it")),
            _ => Ok(()),
        }
    }

    /// Put Blob, append type, create only.
    async fn create_append_blob(&self, blob: &str) -> Result<(), BlobError> {
        let url = self.blob_url(blob);
        let headers = [
            ("x-ms-blob-type".to_string(), "AppendBlob".to_string()),
            (
                "x-ms-blob-content-type".to_string(),
                "application/x-ndjson".to_string(),
            ),
        ];
        let std = Std {
            if_none_match: "*",
            content_type: None,
        };
        let resp = self
            .rest_with(Method::PUT, &url, &headers, Vec::new(), std)
            .await
            .map_err(|e| req_err("create append blob", blob, e))?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Ok(()),
            s => Err(req_err(
                "create append blob",
                blob,
                format!("HTTP {s}: {}", resp.text().await.unwrap_or_default()),
            )),
        }
    }

    /// Append Block: success, or `NOT_FOUND` when there is no such blob.
    async fn append_block(&self, blob: &str, line: &[u8]) -> Result<StatusCode, BlobError> {
        let url = format!("{}?comp=appendblock", self.blob_url(blob));
        let std = Std {
            if_none_match: "",
            content_type: Some("application/octet-stream"),
        };
        let resp = self
            .rest_with(Method::PUT, &url, &[], line.to_vec(), std)
            .await
            .map_err(|e| req_err("append", blob, e))?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(s),
            s => Err(req_err(
                "append",
                blob,
                format!("HTTP {s}: {}", resp.text().await.unwrap_or_default()),
            )),
        }
    }

    /// A GET whose answer is XML: the text and the service's `Date`.
    async fn get_xml(
        &self,
        what: &'static str,
        url: reqwest::Url,
    ) -> Result<(String, Option<chrono::DateTime<chrono::Utc>>), BlobError> {
        let resp = self
            .rest(Method::GET, url.as_str(), &[], Vec::new())
            .await
            .map_err(|e| req_err(what, &self.container, e))?;
        let date = resp
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&chrono::Utc));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            Ok((text, date))
        } else {
            Err(req_err(
                what,
                &self.container,
                format!("HTTP {status}: {text}"),
            ))
        }
    }

    fn blob_url(&self, blob: &str) -> String {
        let encoded: Vec<String> = blob
            .split('/')
            .map(|s| {
                s.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect()
            })
            .collect();
        format!("{}/{}/{}", self.endpoint, self.container, encoded.join("/"))
    }

    async fn expect_ok(
        &self,
        what: &'static str,
        blob: &str,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<String, BlobError> {
        let resp = self
            .rest(method, url, headers, body)
            .await
            .map_err(|e| req_err(what, blob, e))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(text)
        } else {
            Err(req_err(what, blob, format!("HTTP {status}: {text}")))
        }
    }

    /// A Shared Key-signed request (docs: "Authorize with Shared Key").
    async fn rest(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, String> {
        self.rest_with(method, url, headers, body, Std::default())
            .await
    }

    /// [`BlobStore::rest`] with extra standard headers.
    async fn rest_with(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        std: Std<'_>,
    ) -> Result<reqwest::Response, String> {
        self.count();
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        let repeatable = !parsed
            .query()
            .is_some_and(|q| q.contains("comp=appendblock"));
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut ms: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        ms.push(("x-ms-date".into(), date));
        ms.push(("x-ms-version".into(), API_VERSION.into()));
        ms.sort();
        let content_type = match std.content_type {
            Some(t) => t,
            None if body.is_empty() => "",
            None => "application/xml",
        };
        let string_to_sign = shared_key_string(
            method.as_str(),
            body.len(),
            content_type,
            std.if_none_match,
            &ms,
            &self.account,
            &parsed,
        );
        tracing::debug!(string_to_sign = ?string_to_sign, "shared key");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.key);
        let sig = B64.encode(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
        let mut req = self.http.request(method, parsed);
        for (k, v) in &ms {
            req = req.header(k, v);
        }
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        if !std.if_none_match.is_empty() {
            req = req.header("if-none-match", std.if_none_match);
        }
        req = req
            .header("content-length", body.len().to_string())
            .header("authorization", format!("SharedKey {}:{sig}", self.account))
            .body(body);
        // A request that never got an answer (a pooled connection the service was just
        // closing, a reset) is sent again when repeating it cannot change the outcome:
        // everything but an append, whose second copy would be a second line.
        let mut attempt = 1;
        loop {
            let this = match req.try_clone() {
                Some(r) if repeatable && attempt < SEND_ATTEMPTS => r,
                Some(_) | None => return req.send().await.map_err(|e| e.to_string()),
            };
            match this.send().await {
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_connect() || e.is_request() => {
                    tracing::warn!(attempt, error = %e, "request not answered; sending it again");
                    attempt += 1;
                    self.count();
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// Sends of one repeatable request before its error is reported.
const SEND_ATTEMPTS: u64 = 3;

/// The user metadata (`x-ms-meta-*`) among a blob's attributes.
fn user_metadata(attributes: &Attributes) -> BTreeMap<String, String> {
    attributes
        .iter()
        .filter_map(|(k, v)| match k {
            Attribute::Metadata(name) => Some((name.to_string(), v.to_string())),
            _ => None,
        })
        .collect()
}

/// The Shared Key string to sign (service version 2015-02-21 and later): verb, the
/// standard headers (only Content-Length, Content-Type and If-None-Match are ever set
/// here), the sorted `x-ms-` headers and the canonicalised resource.
fn shared_key_string(
    verb: &str,
    content_length: usize,
    content_type: &str,
    if_none_match: &str,
    ms_headers: &[(String, String)],
    account: &str,
    url: &reqwest::Url,
) -> String {
    let length = if content_length == 0 {
        String::new()
    } else {
        content_length.to_string()
    };
    // Content-Encoding, -Language, -Length, -MD5, -Type, Date, If-Modified-Since,
    // If-Match, If-None-Match, If-Unmodified-Since, Range.
    let mut s = format!("{verb}\n\n\n{length}\n\n{content_type}\n\n\n\n{if_none_match}\n\n\n");
    for (k, v) in ms_headers {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(&format!("/{account}{}", url.path()));
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        query
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.into_owned());
    }
    for (k, mut v) in query {
        v.sort();
        s.push_str(&format!("\n{k}:{}", v.join(",")));
    }
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `<Tag><Key>k</Key><Value>v</Value></Tag>` pairs from a Get Blob Tags answer (keys
/// and values here are plain ASCII words; entities are decoded).
fn parse_tags(xml: &str) -> BTreeMap<String, String> {
    let unescape = xml::unescape;
    let mut out = BTreeMap::new();
    for part in xml.split("<Tag>").skip(1) {
        let between = |open: &str, close: &str| {
            part.split_once(open)
                .and_then(|(_, r)| r.split_once(close))
                .map(|(v, _)| unescape(v))
        };
        if let (Some(k), Some(v)) = (between("<Key>", "</Key>"), between("<Value>", "</Value>")) {
            out.insert(k, v);
        }
    }
    out
}

/// The few XML answers read here (tags, Find Blobs by Tags, List Blobs) are flat and
/// regular: elements are found by name, text is entity-decoded.
mod xml {
    use std::collections::BTreeMap;

    /// Decode the five XML entities.
    pub(super) fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    /// The raw inner text of every `<tag>…</tag>` (not nested in itself).
    pub(super) fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let mut out = Vec::new();
        let mut rest = xml;
        while let Some(i) = rest.find(&open) {
            let after = &rest[i + open.len()..];
            let Some(j) = after.find(&close) else {
                break;
            };
            out.push(&after[..j]);
            rest = &after[j + close.len()..];
        }
        out
    }

    /// The raw inner text of the first `<tag>…</tag>`.
    pub(super) fn first_raw<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
        elements(xml, tag).into_iter().next()
    }

    /// The decoded text of the first `<tag>…</tag>` (`None` also for `<tag />`).
    pub(super) fn first(xml: &str, tag: &str) -> Option<String> {
        first_raw(xml, tag).map(unescape)
    }

    /// `<a>1</a><b>2</b>` → {a: 1, b: 2} (metadata).
    pub(super) fn children(xml: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut rest = xml;
        while let Some(i) = rest.find('<') {
            let after = &rest[i + 1..];
            let Some(j) = after.find('>') else {
                break;
            };
            let name = &after[..j];
            if name.starts_with('/') || name.ends_with('/') || name.is_empty() {
                rest = &after[j + 1..];
                continue;
            }
            let body = &after[j + 1..];
            let close = format!("</{name}>");
            let Some(k) = body.find(&close) else {
                break;
            };
            out.insert(name.to_ascii_lowercase(), unescape(&body[..k]));
            rest = &body[k + close.len()..];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_and_find_answers_parse() {
        let list = "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>d/r/000001.ts</Name>\
            <Properties><Creation-Time>Wed, 25 Nov 2026 21:00:00 GMT</Creation-Time><Content-Length>42</Content-Length>\
            <LegalHold>true</LegalHold></Properties><Metadata><sha256>ab</sha256><Dock>d&amp;1</Dock></Metadata>\
            <Tags><TagSet><Tag><Key>category</Key><Value>standard</Value></Tag></TagSet></Tags></Blob>\
            <Blob><Name>d/r/000001.json</Name><Properties><Content-Length>7</Content-Length></Properties></Blob>\
            </Blobs><NextMarker /></EnumerationResults>";
        let blobs = xml::elements(list, "Blob");
        assert_eq!(blobs.len(), 2);
        assert_eq!(
            xml::first(blobs[0], "Name").as_deref(),
            Some("d/r/000001.ts")
        );
        let props = xml::first_raw(blobs[0], "Properties").unwrap();
        assert_eq!(xml::first(props, "Content-Length").as_deref(), Some("42"));
        let meta = xml::children(xml::first_raw(blobs[0], "Metadata").unwrap());
        assert_eq!(meta.get("sha256").map(String::as_str), Some("ab"));
        assert_eq!(meta.get("dock").map(String::as_str), Some("d&1"));
        let tags = parse_tags(xml::first_raw(blobs[0], "Tags").unwrap());
        assert_eq!(tags.get("category").map(String::as_str), Some("standard"));
        assert_eq!(xml::first(list, "NextMarker"), None);
        assert_eq!(
            xml::first("<NextMarker>abc</NextMarker>", "NextMarker").as_deref(),
            Some("abc")
        );
        let created =
            chrono::DateTime::parse_from_rfc2822("Wed, 25 Nov 2026 21:00:00 GMT").unwrap();
        assert_eq!(created.timestamp(), 1_795_640_400);
    }

    #[test]
    fn a_versions_listing_names_each_version_and_which_is_current() {
        // The shape List Blobs documents for include=versions: a <Blob> per version,
        // with <VersionId>, and <IsCurrentVersion>true</IsCurrentVersion> on the
        // current one only; an unversioned container gives neither.
        let list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults><Blobs>\
            <Blob><Name>d/r/000001.ts</Name><VersionId>2026-11-01T10:00:00.1234567Z</VersionId>\
            <Properties><Content-Length>42</Content-Length></Properties></Blob>\
            <Blob><Name>d/r/000001.ts</Name><VersionId>2026-11-02T10:00:00.7654321Z</VersionId>\
            <IsCurrentVersion>true</IsCurrentVersion><Properties /></Blob>\
            <Blob><Name>d/r/000001.json</Name><Properties /></Blob>\
            </Blobs><NextMarker /></EnumerationResults>";
        let v = parse_versions(list);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].name, "d/r/000001.ts");
        assert_eq!(
            v[0].version_id.as_deref(),
            Some("2026-11-01T10:00:00.1234567Z")
        );
        assert!(!v[0].current);
        assert!(v[1].current);
        assert_eq!(v[2].version_id, None);
        assert!(v[2].current);
    }

    #[test]
    fn string_to_sign_has_the_documented_shape() {
        let url = reqwest::Url::parse(
            "http://127.0.0.1:10000/devstoreaccount1/bodycam/dev/rec/000001.ts?comp=tags",
        )
        .unwrap();
        let ms = vec![
            (
                "x-ms-date".to_string(),
                "Wed, 25 Nov 2026 21:00:00 GMT".to_string(),
            ),
            ("x-ms-version".to_string(), API_VERSION.to_string()),
        ];
        let s = shared_key_string(
            "PUT",
            12,
            "application/xml",
            "",
            &ms,
            "devstoreaccount1",
            &url,
        );
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines[0], "PUT");
        assert_eq!(lines[3], "12");
        assert_eq!(lines[5], "application/xml");
        assert_eq!(lines[12], "x-ms-date:Wed, 25 Nov 2026 21:00:00 GMT");
        assert_eq!(
            lines[14],
            "/devstoreaccount1/devstoreaccount1/bodycam/dev/rec/000001.ts"
        );
        assert_eq!(lines[15], "comp:tags");
        assert_eq!(lines.len(), 16);
        // A zero length is an empty line, not "0".
        let s = shared_key_string("GET", 0, "", "*", &ms, "a", &url);
        assert_eq!(s.split('\n').nth(3), Some(""));
        assert_eq!(s.split('\n').nth(9), Some("*"));
    }

    #[test]
    fn tags_round_trip_through_the_xml_forms() {
        let xml = "<?xml version=\"1.0\"?><Tags><TagSet><Tag><Key>retention</Key><Value>evidence</Value></Tag>\
                   <Tag><Key>a&amp;b</Key><Value>x</Value></Tag></TagSet></Tags>";
        let t = parse_tags(xml);
        assert_eq!(t.get("retention").map(String::as_str), Some("evidence"));
        assert_eq!(t.get("a&b").map(String::as_str), Some("x"));
        assert_eq!(xml_escape("a<&>\""), "a&lt;&amp;&gt;&quot;");
    }
}
