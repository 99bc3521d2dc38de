//! The digest-only signing service and its client.
//!
//! Protocol: over TCP or a unix socket, each request and each response is one frame, a
//! 4-byte big-endian length followed by that many bytes of JSON. Requests carry a token, an
//! operation (`cert`: the key's public certificate; `sign`: a signature over a digest), the key
//! name and, for `sign`, the hash algorithm and the digest in hex. The client builds the
//! OpenPGP packet itself and sends only the final digest, so packages never cross the wire;
//! the server performs the private-key operation and returns the signature MPIs. A connection
//! may carry any number of requests; a client's signing threads share a bounded set of
//! connections, so a many-core build host cannot exhaust the service's connection limit.
//!
//! The server holds unlocked keys, checks tokens by comparing SHA-256 hashes in constant time,
//! allows each token only its listed keys, writes one audit line per signature, bounds frame
//! size, connection count and idle time, and never lets one connection's failure touch another.
//! Must not: sign anything but a digest of an accepted hash algorithm and matching length.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use openpgp::crypto::{self, mem::secure_cmp, mpi};
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::parse::Parse;
use openpgp::serialize::MarshalInto as _;
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm};
use openpgp::{Cert, fmt::hex};
use sequoia_openpgp as openpgp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::keystore::LocalKey;
use crate::sign::{DigestAlgo, SignatureMaker};

/// Largest frame either side accepts. A sign request is a few hundred bytes; a certificate
/// response a few kilobytes.
pub const MAX_FRAME: usize = 64 * 1024;
/// How long a connection may sit idle (or a client take to send a frame).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more are refused.
pub const MAX_CONNECTIONS: usize = 64;

/// Where the service listens or the client connects: `unix:PATH` or `HOST:PORT`
/// (optionally `tcp://HOST:PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(String),
    /// A unix socket path.
    Unix(PathBuf),
}

impl std::str::FromStr for Endpoint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(Error::BadArgument("unix: needs a socket path".into()));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let addr = s.strip_prefix("tcp://").unwrap_or(s).trim_end_matches('/');
        if !addr.contains(':') {
            return Err(Error::BadArgument(format!(
                "bad signer address {s:?} (HOST:PORT or unix:PATH)"
            )));
        }
        Ok(Endpoint::Tcp(addr.to_string()))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Request {
    token: String,
    op: String,
    key: String,
    #[serde(default)]
    hash: Option<u8>,
    #[serde(default)]
    digest: Option<String>,
}

/// Debug output never shows the token.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("token", &"<redacted>")
            .field("op", &self.op)
            .field("key", &self.key)
            .field("hash", &self.hash)
            .field("digest", &self.digest)
            .finish()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Response {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pk_algo: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
fn read_frame(stream: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {MAX_FRAME}"),
        ));
    }
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf)?;
    Ok(Some(buf))
}

fn write_frame(stream: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame)?;
    stream.flush()
}

/// One token's permissions.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// A label for audit lines (never the token itself).
    pub label: String,
    token_hash: [u8; 32],
    /// Key names or patterns (`*`, `OWNER/*`) this token may use.
    pub keys: Vec<String>,
}

impl TokenGrant {
    /// A grant for `token` to use `keys`.
    pub fn new(label: &str, token: &str, keys: Vec<String>) -> TokenGrant {
        TokenGrant {
            label: label.to_string(),
            token_hash: Sha256::digest(token.as_bytes()).into(),
            keys,
        }
    }

    fn allows(&self, key: &str) -> bool {
        self.keys.iter().any(|pattern| {
            pattern == "*"
                || pattern == key
                || pattern
                    .strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with('/') && key.starts_with(prefix))
        })
    }
}

/// Parses a token file: one grant per line, `LABEL TOKEN KEY[,KEY...]`; `#` comments.
pub fn parse_tokens(text: &str) -> Result<Vec<TokenGrant>> {
    let mut grants = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [label, token, keys] = fields[..] else {
            return Err(Error::BadArgument(format!(
                "token file line {}: expected LABEL TOKEN KEY[,KEY...]",
                n + 1
            )));
        };
        if token.len() < 16 {
            return Err(Error::BadArgument(format!(
                "token file line {}: token {label:?} is shorter than 16 characters",
                n + 1
            )));
        }
        grants.push(TokenGrant::new(
            label,
            token,
            keys.split(',').map(str::to_string).collect(),
        ));
    }
    if grants.is_empty() {
        return Err(Error::BadArgument("the token file grants nothing".into()));
    }
    Ok(grants)
}

/// Where audit lines go.
pub type AuditSink = Arc<Mutex<Box<dyn Write + Send>>>;

/// The signing service's state.
pub struct SignerService {
    keys: HashMap<String, LocalKey>,
    grants: Vec<TokenGrant>,
    audit: AuditSink,
    connections: AtomicUsize,
    peak_connections: AtomicUsize,
}

impl SignerService {
    /// A service holding `keys`, answering holders of `grants`, auditing to `audit`.
    pub fn new(keys: Vec<LocalKey>, grants: Vec<TokenGrant>, audit: AuditSink) -> SignerService {
        SignerService {
            keys: keys.into_iter().map(|k| (k.name.clone(), k)).collect(),
            grants,
            audit,
            connections: AtomicUsize::new(0),
            peak_connections: AtomicUsize::new(0),
        }
    }

    /// The most connections served at once so far (refused ones not counted).
    pub fn peak_connections(&self) -> usize {
        self.peak_connections.load(Ordering::SeqCst)
    }

    /// Compares against every grant, always all of them, each in constant time.
    fn authenticate(&self, token: &str) -> Option<&TokenGrant> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for grant in &self.grants {
            if secure_cmp(&presented, &grant.token_hash) == std::cmp::Ordering::Equal {
                found = Some(grant);
            }
        }
        found
    }

    fn audit(&self, line: &str) {
        let mut sink = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(sink, "{line}");
        let _ = sink.flush();
    }

    fn handle(&self, request: &[u8], peer: &str) -> Response {
        let fail = |msg: String| Response {
            error: Some(msg),
            ..Response::default()
        };
        let request: Request = match serde_json::from_slice(request) {
            Ok(r) => r,
            Err(err) => return fail(format!("malformed request: {err}")),
        };
        let Some(grant) = self.authenticate(&request.token) else {
            tracing::warn!("{peer}: rejected a request with an invalid token");
            return fail("invalid token".into());
        };
        if !grant.allows(&request.key) {
            return fail(format!(
                "token {:?} may not use key {:?}",
                grant.label, request.key
            ));
        }
        let Some(key) = self.keys.get(&request.key) else {
            return fail(format!("unknown key {:?}", request.key));
        };
        match request.op.as_str() {
            "cert" => match crate::key::armored_public(&key.cert) {
                Ok(bytes) => Response {
                    cert: Some(String::from_utf8_lossy(&bytes).into_owned()),
                    ..Response::default()
                },
                Err(err) => fail(format!("cannot serialize certificate: {err}")),
            },
            "sign" => {
                let hash = HashAlgorithm::from(request.hash.unwrap_or(0));
                let Some(algo) = DigestAlgo::from_hash(hash) else {
                    return fail(format!(
                        "hash algorithm {hash} is refused (SHA-256/384/512 only)"
                    ));
                };
                let digest = match request.digest.as_deref().map(hex::decode) {
                    Some(Ok(d)) => d,
                    _ => return fail("missing or malformed digest".into()),
                };
                if Some(digest.len()) != hash.digest_size().ok() {
                    return fail(format!(
                        "a {hash} digest is {} bytes, got {}",
                        hash.digest_size().unwrap_or(0),
                        digest.len()
                    ));
                }
                match key.signer().sign(algo.hash(), &digest) {
                    Ok(sig) => match sig.to_vec() {
                        Ok(bytes) => {
                            self.audit(&format!(
                                "audit: signed key={} fingerprint={} hash={} digest={} token={} peer={}",
                                key.name,
                                key.cert.fingerprint().to_hex(),
                                hash,
                                hex::encode(&digest),
                                grant.label,
                                peer
                            ));
                            Response {
                                pk_algo: Some(u8::from(key.keypair.public().pk_algo())),
                                signature: Some(hex::encode(bytes)),
                                ..Response::default()
                            }
                        }
                        Err(err) => fail(format!("cannot serialize signature: {err}")),
                    },
                    Err(err) => fail(format!("signing failed: {err}")),
                }
            }
            other => fail(format!("unknown operation {other:?}")),
        }
    }

    fn serve_connection<S: Read + Write>(&self, mut stream: S, peer: &str) {
        loop {
            let frame = match read_frame(&mut stream) {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!("{peer}: dropping connection: {err}");
                    if err.kind() == io::ErrorKind::InvalidData {
                        let response = Response {
                            error: Some(format!("request too large: {err}")),
                            ..Response::default()
                        };
                        if let Ok(body) = serde_json::to_vec(&response) {
                            let _ = write_frame(&mut stream, &body);
                        }
                    }
                    return;
                }
            };
            let response = self.handle(&frame, peer);
            let body = serde_json::to_vec(&response).expect("responses serialize");
            if let Err(err) = write_frame(&mut stream, &body) {
                tracing::warn!("{peer}: cannot answer: {err}");
                return;
            }
        }
    }

    fn spawn_connection<S>(self: &Arc<Self>, stream: S, peer: String)
    where
        S: Read + Write + Send + 'static,
    {
        let busy = self.connections.fetch_add(1, Ordering::SeqCst);
        if busy >= MAX_CONNECTIONS {
            self.connections.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("{peer}: refused, {MAX_CONNECTIONS} connections busy");
            return;
        }
        self.peak_connections.fetch_max(busy + 1, Ordering::SeqCst);
        let service = Arc::clone(self);
        std::thread::spawn(move || {
            service.serve_connection(stream, &peer);
            service.connections.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Serves forever on `endpoint`; `ready` is called once the socket listens.
    pub fn serve(self: Arc<Self>, endpoint: &Endpoint, ready: impl FnOnce(&str)) -> Result<()> {
        match endpoint {
            Endpoint::Tcp(addr) => {
                let listener = TcpListener::bind(addr).map_err(|e| Error::io(addr, e))?;
                let local = listener
                    .local_addr()
                    .map_or_else(|_| addr.clone(), |a| a.to_string());
                ready(&local);
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let peer = stream
                        .peer_addr()
                        .map_or_else(|_| "?".into(), |a| a.to_string());
                    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
                    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
                    let _ = stream.set_nodelay(true);
                    self.spawn_connection(stream, peer);
                }
            }
            Endpoint::Unix(path) => {
                if path.exists() {
                    // A stale socket from an earlier run; refuse to remove anything else.
                    let is_socket = std::os::unix::fs::FileTypeExt::is_socket(
                        &std::fs::symlink_metadata(path)
                            .map_err(|e| Error::io(path, e))?
                            .file_type(),
                    );
                    if !is_socket || UnixStream::connect(path).is_ok() {
                        return Err(Error::io(
                            path,
                            io::Error::new(io::ErrorKind::AddrInUse, "exists and is in use"),
                        ));
                    }
                    std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
                }
                let listener = UnixListener::bind(path).map_err(|e| Error::io(path, e))?;
                std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o660))
                    .map_err(|e| Error::io(path, e))?;
                ready(&format!("unix:{}", path.display()));
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
                    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
                    self.spawn_connection(stream, format!("unix:{}", path.display()));
                }
            }
        }
        Ok(())
    }
}

/// How many connections a client keeps to the service unless told otherwise: enough to keep a
/// service's cores busy, and well under [`MAX_CONNECTIONS`] so several build hosts can share
/// one service.
pub const DEFAULT_CLIENT_CONNECTIONS: usize = 8;

#[derive(Debug)]
enum Connection {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Connection {
    fn open(endpoint: &Endpoint) -> Result<Connection> {
        let conn = match endpoint {
            Endpoint::Tcp(addr) => {
                let s = TcpStream::connect(addr)
                    .map_err(|e| Error::Service(format!("cannot connect to {addr}: {e}")))?;
                let _ = s.set_nodelay(true);
                Connection::Tcp(s)
            }
            Endpoint::Unix(path) => Connection::Unix(UnixStream::connect(path).map_err(|e| {
                Error::Service(format!("cannot connect to unix:{}: {e}", path.display()))
            })?),
        };
        let timeout = Some(IDLE_TIMEOUT * 2);
        match &conn {
            Connection::Tcp(s) => {
                let _ = s.set_read_timeout(timeout);
            }
            Connection::Unix(s) => {
                let _ = s.set_read_timeout(timeout);
            }
        }
        Ok(conn)
    }

    /// Sends one request frame and reads the answer frame. After an error the connection is
    /// out of step and must be dropped.
    fn exchange(&mut self, body: &[u8]) -> Result<Vec<u8>> {
        let io_err = |e: io::Error| Error::Service(format!("connection failed: {e}"));
        match self {
            Connection::Tcp(s) => {
                write_frame(s, body).map_err(io_err)?;
                read_frame(s)
            }
            Connection::Unix(s) => {
                write_frame(s, body).map_err(io_err)?;
                read_frame(s)
            }
        }
        .map_err(io_err)?
        .ok_or_else(|| Error::Service("the service closed the connection".into()))
    }
}

/// The service's answer to `request`, or the error it reported.
fn decode_response(request: &Request, frame: &[u8]) -> Result<Response> {
    let response: Response = serde_json::from_slice(frame)
        .map_err(|e| Error::Service(format!("malformed response: {e}")))?;
    match response.error {
        Some(err) if err.starts_with("unknown key") => Err(Error::UnknownKey(request.key.clone())),
        Some(err) => Err(Error::Service(err)),
        None => Ok(response),
    }
}

/// The connections a [`RemoteKey`] and all its clones and signers share: at most `limit` are
/// open at once, however many threads sign. A request takes an idle connection, opens one
/// while fewer than `limit` exist, or waits for one to come back.
#[derive(Debug)]
struct ConnectionPool {
    endpoint: Endpoint,
    limit: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

#[derive(Debug, Default)]
struct PoolState {
    idle: Vec<Connection>,
    /// Idle connections plus those in use.
    open: usize,
}

impl ConnectionPool {
    fn new(endpoint: Endpoint, limit: usize) -> ConnectionPool {
        ConnectionPool {
            endpoint,
            limit,
            state: Mutex::new(PoolState::default()),
            returned: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state stays consistent at every unlock, so a panicked holder left nothing torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection for one request. With `fresh`, a newly opened one: an idle connection is
    /// closed to make room rather than used.
    fn take(&self, fresh: bool) -> Result<Connection> {
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                if !fresh {
                    return Ok(conn);
                }
                // Replaced by the new connection below: the count stays.
                drop(conn);
                break;
            }
            if state.open < self.limit {
                state.open += 1;
                break;
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        Connection::open(&self.endpoint).inspect_err(|_| self.forget())
    }

    fn give_back(&self, conn: Connection) {
        self.lock().idle.push(conn);
        self.returned.notify_one();
    }

    /// A taken connection was dropped: its place is free.
    fn forget(&self) {
        self.lock().open -= 1;
        self.returned.notify_one();
    }

    /// One request and its answer. A connection that fails is dropped and the request tried
    /// once more on a fresh one: a kept-alive connection may have been closed by the service
    /// (idle timeout, restart) since its last use.
    fn call(&self, request: &Request) -> Result<Response> {
        let body = serde_json::to_vec(request).map_err(|e| Error::Service(e.to_string()))?;
        let mut fresh = false;
        loop {
            let mut conn = self.take(fresh)?;
            match conn.exchange(&body) {
                Ok(frame) => {
                    self.give_back(conn);
                    return decode_response(request, &frame);
                }
                Err(err) => {
                    drop(conn);
                    self.forget();
                    if fresh {
                        return Err(err);
                    }
                    fresh = true;
                }
            }
        }
    }
}

/// A key held by a signing service. Clones share one set of connections.
#[derive(Clone)]
pub struct RemoteKey {
    token: String,
    name: String,
    cert: Cert,
    connections: Arc<ConnectionPool>,
}

/// Debug output never shows the token.
impl std::fmt::Debug for RemoteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKey")
            .field("token", &"<redacted>")
            .field("name", &self.name)
            .field("fingerprint", &self.cert.fingerprint().to_hex())
            .field("connections", &self.connections)
            .finish()
    }
}

impl RemoteKey {
    /// Connects, authenticates and fetches the key's public certificate; signing then keeps
    /// at most [`DEFAULT_CLIENT_CONNECTIONS`] connections open.
    pub fn connect(endpoint: Endpoint, token: &str, name: &str) -> Result<RemoteKey> {
        RemoteKey::connect_with_limit(endpoint, token, name, DEFAULT_CLIENT_CONNECTIONS)
    }

    /// [`RemoteKey::connect`], keeping at most `connections` (at least 1) open to the service
    /// however many threads sign; threads beyond that wait for a free connection.
    pub fn connect_with_limit(
        endpoint: Endpoint,
        token: &str,
        name: &str,
        connections: usize,
    ) -> Result<RemoteKey> {
        if connections == 0 {
            return Err(Error::BadArgument(
                "at least one connection to the signing service is needed".into(),
            ));
        }
        let pool = Arc::new(ConnectionPool::new(endpoint, connections));
        let response = pool.call(&Request {
            token: token.to_string(),
            op: "cert".into(),
            key: name.to_string(),
            hash: None,
            digest: None,
        })?;
        let armored = response
            .cert
            .ok_or_else(|| Error::Service("response without certificate".into()))?;
        let cert = Cert::from_bytes(armored.as_bytes())
            .map_err(|e| Error::pgp("certificate from the service", e))?;
        Ok(RemoteKey {
            token: token.to_string(),
            name: name.to_string(),
            cert,
            connections: pool,
        })
    }
}

impl SignatureMaker for RemoteKey {
    fn cert(&self) -> &Cert {
        &self.cert
    }

    fn crypto_signer(&self) -> Result<Box<dyn crypto::Signer + Send + Sync>> {
        Ok(Box::new(RemoteSigner {
            key: self.clone(),
            public: self
                .cert
                .primary_key()
                .key()
                .clone()
                .role_into_unspecified(),
        }))
    }
}

/// A sequoia signer whose private-key operation is a request to the service, made on one of
/// its key's shared connections.
struct RemoteSigner {
    key: RemoteKey,
    public: openpgp::packet::Key<PublicParts, UnspecifiedRole>,
}

impl crypto::Signer for RemoteSigner {
    fn public(&self) -> &openpgp::packet::Key<PublicParts, UnspecifiedRole> {
        &self.public
    }

    fn acceptable_hashes(&self) -> &[HashAlgorithm] {
        &[
            HashAlgorithm::SHA256,
            HashAlgorithm::SHA384,
            HashAlgorithm::SHA512,
        ]
    }

    fn sign(&mut self, hash_algo: HashAlgorithm, digest: &[u8]) -> openpgp::Result<mpi::Signature> {
        let response = self.key.connections.call(&Request {
            token: self.key.token.clone(),
            op: "sign".into(),
            key: self.key.name.clone(),
            hash: Some(u8::from(hash_algo)),
            digest: Some(hex::encode(digest)),
        })?;
        let pk_algo = PublicKeyAlgorithm::from(response.pk_algo.unwrap_or(0));
        if pk_algo != self.public.pk_algo() {
            return Err(
                Error::Service("the service answered with another key algorithm".into()).into(),
            );
        }
        let bytes = response
            .signature
            .as_deref()
            .map(hex::decode)
            .transpose()?
            .ok_or_else(|| Error::Service("response without signature".into()))?;
        mpi::Signature::parse(pk_algo, &bytes[..])
    }
}

/// Reads the token for `sign --signer` clients from a file (first line).
pub fn read_token_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(Error::BadArgument(format!(
            "{}: empty token file",
            path.display()
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token() {
        let request = Request {
            token: "s3cret-token-value".into(),
            op: "sign".into(),
            key: "alice/hello".into(),
            hash: Some(8),
            digest: None,
        };
        let shown = format!("{request:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("alice/hello"), "{shown}");
    }

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            "unix:/run/s.sock".parse::<Endpoint>().unwrap(),
            Endpoint::Unix("/run/s.sock".into())
        );
        assert_eq!(
            "tcp://127.0.0.1:5167".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("127.0.0.1:5167".into())
        );
        assert!("nothing".parse::<Endpoint>().is_err());
    }

    #[test]
    fn grants_match_names_and_prefixes() {
        let grants = parse_tokens(
            "# comment\nci 0123456789abcdef0123 alice/*,bob/one\nall fedcba9876543210fedc *\n",
        )
        .unwrap();
        assert!(grants[0].allows("alice/x"));
        assert!(grants[0].allows("bob/one"));
        assert!(!grants[0].allows("bob/two"));
        assert!(!grants[0].allows("alicex/y"));
        assert!(grants[1].allows("anything"));
        assert!(parse_tokens("x short k").is_err());
        assert!(parse_tokens("x 0123456789abcdef0123").is_err());
    }

    const TOKEN: &str = "unit-token-0123456789abcdef";

    /// A service with one Ed25519 key, `team/app`, served on a loopback port by a thread
    /// that lives as long as the test process.
    fn running_service(dir: &Path) -> (Arc<SignerService>, Endpoint) {
        let store = crate::Keystore::open(dir.join("keystore")).unwrap();
        store
            .generate(
                "team/app",
                "Team <team@example.org>",
                crate::KeyAlgo::Ed25519,
                None,
                None,
            )
            .unwrap();
        let key = store.unlock("team/app", None).unwrap();
        let audit: AuditSink = Arc::new(Mutex::new(Box::new(io::sink())));
        let grants = vec![TokenGrant::new("unit", TOKEN, vec!["team/*".into()])];
        let service = Arc::new(SignerService::new(vec![key], grants, audit));
        let (ready, address) = std::sync::mpsc::channel();
        let serving = Arc::clone(&service);
        std::thread::spawn(move || {
            serving.serve(&Endpoint::Tcp("127.0.0.1:0".into()), |addr| {
                ready.send(addr.to_string()).unwrap();
            })
        });
        let address = address.recv().unwrap();
        (service, Endpoint::Tcp(address))
    }

    #[test]
    fn signing_threads_share_a_bounded_set_of_connections() {
        let dir = tempfile::tempdir().unwrap();
        let (service, endpoint) = running_service(dir.path());
        assert!(matches!(
            RemoteKey::connect_with_limit(endpoint.clone(), TOKEN, "team/app", 0),
            Err(Error::BadArgument(_))
        ));
        let key = RemoteKey::connect_with_limit(endpoint, TOKEN, "team/app", 2).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains(TOKEN), "the token shows in {shown}");
        let public = key
            .cert()
            .primary_key()
            .key()
            .clone()
            .role_into_unspecified();
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let key = key.clone();
                let public = public.clone();
                scope.spawn(move || {
                    for n in 0..12 {
                        let data = format!("thread {thread} message {n}");
                        // A signer per message, as rayon's map_init may make them.
                        let mut signer = key.crypto_signer().unwrap();
                        let packet = crate::sign::sign_bytes(
                            signer.as_mut(),
                            data.as_bytes(),
                            crate::sign::DigestAlgo::Sha256,
                        )
                        .unwrap();
                        let openpgp::Packet::Signature(sig) =
                            openpgp::Packet::from_bytes(&packet).unwrap()
                        else {
                            panic!("not a signature packet");
                        };
                        sig.verify_message(&public, data.as_bytes()).unwrap();
                    }
                });
            }
        });
        let peak = service.peak_connections();
        assert!((1..=2).contains(&peak), "{peak} connections at once");
    }

    #[test]
    fn frames_are_bounded() {
        let mut big = Vec::new();
        big.extend_from_slice(&((MAX_FRAME + 1) as u32).to_be_bytes());
        let err = read_frame(&mut &big[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut ok = Vec::new();
        write_frame(&mut ok, b"{}").unwrap();
        assert_eq!(read_frame(&mut &ok[..]).unwrap().unwrap(), b"{}");
        assert!(read_frame(&mut &[][..]).unwrap().is_none());
    }
}
