//! Harness for end-to-end tests through a real Envoy with the built `pci_guard.wasm`.
//!
//! Each test starts its own Envoy on free loopback ports with a config from `envoy/`, an
//! upstream it controls ([`Upstream`]), and reads the access log. Every process started here is
//! killed on drop, so a failing test leaves nothing running.
//!
//! The client ([`request`]) speaks raw HTTP/1.1 on purpose: tests send paths and headers
//! exactly as written (`//`, `%2F`, dot segments), which ordinary clients would normalise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod als;
pub mod grpc;
pub mod otlp;
pub mod tokens;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The workspace root (the folder holding `Cargo.toml`, `envoy/`, `testdata/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Envoy binary: `$ENVOY`, else the one `make` installs into `.venv`.
pub fn envoy_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ENVOY") {
        return PathBuf::from(p);
    }
    let p = root().join(".venv/bin/envoy");
    assert!(
        p.exists(),
        "no Envoy at {}: run `make test` (it installs one) or set ENVOY=/path/to/envoy",
        p.display()
    );
    p
}

/// The plugin under test: `$PCI_GUARD_WASM`, else the release build.
pub fn wasm_path() -> PathBuf {
    if let Ok(p) = std::env::var("PCI_GUARD_WASM") {
        return PathBuf::from(p);
    }
    let p = root().join("target/wasm32-wasip1/release/pci_guard.wasm");
    assert!(
        p.exists(),
        "no plugin at {}: build it with `make wasm`",
        p.display()
    );
    p
}

/// A free loopback port (bound, read, released), never one this process was given before:
/// the kernel may hand a just-released port out again, and an Envoy whose listener and admin
/// ports came out equal failed to start (seen once in `make test`).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<std::collections::BTreeSet<u16>> =
        Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "pci-guard-e2e-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills `{{NAME}}` placeholders; panics on any left unfilled, so a typo cannot pass.
pub fn render(template: &str, vars: &HashMap<&str, String>) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    if let Some(i) = out.find("{{") {
        let end = out[i..].find("}}").map_or(out.len(), |e| i + e + 2);
        panic!("unfilled placeholder {} in Envoy config", &out[i..end]);
    }
    out
}

/// A policy as the YAML scalar Envoy's `StringValue` takes (a JSON string is valid YAML).
pub fn policy_scalar(policy_json: &str) -> String {
    serde_json::to_string(policy_json).unwrap()
}

pub struct EnvoyOptions<'a> {
    /// Config template file under `envoy/`.
    pub config: &'a str,
    pub policy: String,
    pub upstream_port: u16,
    pub extra: Vec<(&'a str, String)>,
}

pub struct Envoy {
    child: Child,
    pub port: u16,
    pub admin_port: u16,
    pub access_log: PathBuf,
    pub stderr_log: PathBuf,
    /// What Envoy wrote to stdout (the stdout access logger's lines).
    pub stdout_log: PathBuf,
    _dir: TempDir,
}

/// Why an Envoy did not come up.
#[derive(Debug)]
pub struct StartFailure {
    pub exit_code: Option<i32>,
    pub stderr: String,
}

impl Envoy {
    pub fn start(opts: EnvoyOptions<'_>) -> Envoy {
        match Self::try_start(opts) {
            Ok(e) => e,
            Err(f) => panic!(
                "Envoy did not start (exit {:?}):\n{}",
                f.exit_code,
                tail(&f.stderr, 40)
            ),
        }
    }

    pub fn try_start(opts: EnvoyOptions<'_>) -> Result<Envoy, StartFailure> {
        let dir = TempDir::new("envoy");
        let port = free_port();
        let admin_port = free_port();
        let access_log = dir.path().join("access.log");
        let stderr_log = dir.path().join("envoy.stderr");
        let stdout_log = dir.path().join("envoy.stdout");
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("LISTEN_PORT", port.to_string());
        vars.insert("ADMIN_PORT", admin_port.to_string());
        vars.insert("UPSTREAM_PORT", opts.upstream_port.to_string());
        vars.insert("ACCESS_LOG", access_log.display().to_string());
        vars.insert("WASM_PATH", wasm_path().display().to_string());
        vars.insert("POLICY", policy_scalar(&opts.policy));
        // No identity provider unless the test starts one: key fetches then fail.
        vars.insert("IDP_PORT", free_port().to_string());
        for (k, v) in opts.extra {
            vars.insert(k, v);
        }
        let template = std::fs::read_to_string(root().join("envoy").join(opts.config)).unwrap();
        let config = dir.path().join("envoy.yaml");
        std::fs::write(&config, render(&template, &vars)).unwrap();
        let child = Command::new(envoy_bin())
            .arg("-c")
            .arg(&config)
            .args([
                "--concurrency",
                "1",
                "--use-dynamic-base-id",
                "--log-level",
                "info",
                // Access logs are flushed every 10 s by default; tests read them at once.
                "--file-flush-interval-msec",
                "50",
            ])
            .stdout(std::fs::File::create(&stdout_log).unwrap())
            .stderr(std::fs::File::create(&stderr_log).unwrap())
            .spawn()
            .expect("start envoy");
        let mut envoy = Envoy {
            child,
            port,
            admin_port,
            access_log,
            stderr_log,
            stdout_log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                return Err(StartFailure {
                    exit_code: status.code(),
                    stderr: envoy.stderr(),
                });
            }
            if let Ok(r) = request(admin_port, "GET", "/ready", &[], b"") {
                if r.status == 200 {
                    return Ok(envoy);
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(StartFailure {
            exit_code: None,
            stderr: envoy.stderr(),
        })
    }

    /// Envoy's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Sends a request through the listener.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(self.port, method, path, headers, body).unwrap()
    }

    /// Audit events written so far, waiting until at least `n` are there (access logs flush
    /// asynchronously).
    pub fn audit_events(&self, n: usize) -> Vec<serde_json::Value> {
        self.audit_lines(n)
            .iter()
            .map(|l| parse_audit_line(l))
            .collect()
    }

    /// The raw access-log lines, waiting until at least `n` are there.
    pub fn audit_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.access_log).unwrap_or_default();
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `[critical]` or wasm panic lines Envoy logged: a healthy run has none.
    pub fn critical_lines(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| l.contains("[critical]") || l.contains("panicked at"))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a receiver has collected so far, waiting (up to 10 s) until there are at least `n`:
/// sinks deliver asynchronously (batches on a timer).
pub fn collected_at_least<T: Clone>(items: &Mutex<Vec<T>>, n: usize) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = items.lock().unwrap().clone();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Parses one access-log line and checks it against `policy-schema/audit.schema.json`, so
/// every e2e test that reads audit events also proves they match the published schema.
pub fn parse_audit_line(line: &str) -> serde_json::Value {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let v = SCHEMA.get_or_init(|| {
        let text = std::fs::read(root().join("policy-schema/audit.schema.json")).unwrap();
        jsonschema::draft202012::new(&serde_json::from_slice(&text).unwrap()).unwrap()
    });
    let event: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {line}"));
    let errors: Vec<String> = v
        .iter_errors(&event)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "audit event does not match audit.schema.json: {errors:#?}\n{line}"
    );
    event
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `envoy --mode validate` on a rendered config; returns (ok, output).
pub fn validate(config_text: &str) -> (bool, String) {
    let dir = TempDir::new("validate");
    let f = dir.path().join("config.yaml");
    std::fs::write(&f, config_text).unwrap();
    let out = Command::new(envoy_bin())
        .args(["--mode", "validate", "--use-dynamic-base-id", "-c"])
        .arg(&f)
        .current_dir(root())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text)
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One HTTP/1.1 request on a fresh connection, the path sent verbatim.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nhost: payments.test\r\nconnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r)?;
    let body = read_body(&mut r, &headers)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_head(r: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    Ok((status, read_headers(r)?))
}

fn read_headers(r: &mut impl BufRead) -> std::io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok(headers)
}

fn read_body(r: &mut impl BufRead, headers: &[(String, String)]) -> std::io::Result<Vec<u8>> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if n == 0 {
                read_headers(r)?; // trailers
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// A request the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the upstream answers a request with.
pub type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How to send the body: one write with `content-length`, or chunked as given.
    pub framing: Framing,
}

#[derive(Clone, Default)]
pub enum Framing {
    #[default]
    ContentLength,
    /// `transfer-encoding: chunked`, one HTTP chunk per piece, flushed with a short pause
    /// between pieces so Envoy sees them as separate body callbacks.
    Chunked(Vec<usize>),
    /// Sends this many bytes of the body, then resets the connection.
    ResetAfter(usize),
}

impl Reply {
    pub fn json(body: &str) -> Reply {
        Reply::with("application/json", body.as_bytes().to_vec())
    }

    pub fn with(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body,
            framing: Framing::ContentLength,
        }
    }
}

/// An HTTP/1.1 upstream on loopback that records what reaches it.
pub struct Upstream {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Upstream {
    /// An upstream answering `{"ok":true}` to everything.
    pub fn ok() -> Upstream {
        Self::start(Arc::new(|_| Reply::json("{\"ok\":true}")))
    }

    /// Serves files from `testdata/bodies/<name>` at `/fixtures/<name>`, and `{"ok":true}` elsewhere.
    pub fn fixtures() -> Upstream {
        Self::start(Arc::new(|r: &Received| {
            if let Some(name) = r.path.strip_prefix("/fixtures/") {
                let name = name.split('?').next().unwrap_or(name);
                let p = root().join("testdata/bodies").join(name);
                if !name.contains("..") {
                    if let Ok(body) = std::fs::read(&p) {
                        let ct = match p.extension().and_then(|e| e.to_str()) {
                            Some("json") => "application/json",
                            Some("xml") => "application/xml",
                            Some("form") => "application/x-www-form-urlencoded",
                            _ => "text/plain",
                        };
                        return Reply::with(ct, body);
                    }
                }
                return Reply {
                    status: 404,
                    ..Reply::with("text/plain", b"no such fixture".to_vec())
                };
            }
            Reply::json("{\"ok\":true}")
        }))
    }

    pub fn start(handler: Arc<Handler>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (rec, st) = (received.clone(), stop.clone());
        thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (rec, handler) = (rec.clone(), handler.clone());
                        thread::spawn(move || serve_connection(conn, rec, handler));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Upstream {
            port,
            received,
            stop,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve_connection(conn: TcpStream, rec: Arc<Mutex<Vec<Received>>>, handler: Arc<Handler>) {
    conn.set_nonblocking(false).ok();
    // Head and body go out in separate writes: without this, Nagle holds the body back until
    // Envoy's delayed ACK (~40 ms per response), which hides everything else under load.
    conn.set_nodelay(true).ok();
    conn.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut w = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let Ok(headers) = read_headers(&mut r) else {
            return;
        };
        let Ok(_body) = read_body_request(&mut r, &headers) else {
            return;
        };
        let req = Received {
            method: method.to_string(),
            path: path.to_string(),
            headers,
        };
        rec.lock().unwrap().push(req.clone());
        let reply = handler(&req);
        if write_reply(&mut w, &reply).is_err() {
            let _ = w.shutdown(Shutdown::Both);
            return;
        }
        if matches!(reply.framing, Framing::ResetAfter(_)) {
            return;
        }
    }
}

fn write_reply(w: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
    match &reply.framing {
        Framing::Chunked(_) => head.push_str("transfer-encoding: chunked\r\n"),
        _ => head.push_str(&format!("content-length: {}\r\n", reply.body.len())),
    }
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    match &reply.framing {
        Framing::ContentLength => w.write_all(&reply.body),
        Framing::ResetAfter(n) => {
            w.write_all(&reply.body[..(*n).min(reply.body.len())])?;
            w.flush()?;
            thread::sleep(Duration::from_millis(100));
            // SO_LINGER 0 would send RST; closing both halves mid-body is what Envoy sees as
            // an upstream reset before the promised length.
            w.shutdown(Shutdown::Both)
        }
        Framing::Chunked(sizes) => {
            let mut rest = &reply.body[..];
            let mut sizes = sizes.iter().copied().cycle();
            while !rest.is_empty() {
                let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
                let (piece, tail) = rest.split_at(n);
                w.write_all(format!("{n:x}\r\n").as_bytes())?;
                w.write_all(piece)?;
                w.write_all(b"\r\n")?;
                w.flush()?;
                thread::sleep(Duration::from_millis(2));
                rest = tail;
            }
            w.write_all(b"0\r\n\r\n")
        }
    }
}

fn read_body_request(
    r: &mut impl BufRead,
    headers: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let has_body = headers.iter().any(|(n, v)| {
        (n == "content-length" && v != "0")
            || (n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    });
    if has_body {
        read_body(r, headers)
    } else {
        Ok(Vec::new())
    }
}

impl Envoy {
    /// A counter or gauge from the admin `/stats` (`None` if Envoy has no such stat yet).
    pub fn stat(&self, name: &str) -> Option<u64> {
        let r = request(self.admin_port, "GET", "/stats", &[], b"").ok()?;
        String::from_utf8_lossy(&r.body).lines().find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            (n == name).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// Waits until `name` reaches at least `at_least`; returns the last value seen.
    pub fn wait_for_stat(&self, name: &str, at_least: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.stat(name).unwrap_or(0);
            if v >= at_least || Instant::now() > deadline {
                return v;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Replaces `path` atomically: writes a temporary file in the same directory, then renames it
/// over `path` (what Envoy's file-based xDS watches for).
pub fn replace_file(path: &Path, content: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
