//! The Envoy process: a config template rendered with free ports and the test's values,
//! started, waited for until ready, queried for stats, and killed on drop.
//!
//! Every e2e test and the load bench start Envoy through [`Harness`]:
//!
//! ```no_run
//! use pci_guard_e2e::{Harness, Upstream};
//!
//! let (up, idp) = (Upstream::ok(), Upstream::ok());
//! let policy = r#"{"version": "1", "routes": []}"#;
//! let envoy = Harness::new("pci-guard.yaml", policy, up.port)
//!     .var("IDP_PORT", idp.port)
//!     .start();
//! let events = envoy.audit_events(1);
//! ```

use std::collections::{BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{request, Response};
use crate::files::{root, TempDir};
use crate::runtime::{dynamic_module_dir, to_dynamic, Runtime};

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
/// ports come out equal fails to start.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
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

/// Runs `envoy --mode validate` on a rendered config; returns (ok, output).
pub fn validate(config_text: &str) -> (bool, String) {
    let dir = TempDir::new("validate");
    let f = dir.path().join("config.yaml");
    std::fs::write(&f, config_text).unwrap();
    validate_file(&f)
}

/// Runs `envoy --mode validate -c FILE` from the workspace root (where the shipped configs'
/// relative plugin path points); returns (ok, output). Validation loads the plugin and its
/// policy, and opens the access-log files.
pub fn validate_file(config: &Path) -> (bool, String) {
    let out = Command::new(envoy_bin())
        .args(["--mode", "validate", "--use-dynamic-base-id", "-c"])
        .arg(config)
        .current_dir(root())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text)
}

type Edit = Box<dyn FnOnce(String) -> String>;

/// Where the e2e config templates live: the shipped configs in `envoy/` are runnable as they
/// are (fixed ports, an inline policy), so tests render their own copies from here.
pub const TEMPLATES: &str = "envoy/tests/templates";

/// The config template `name`: under [`TEMPLATES`] if there, else under `envoy/` (the ECDS
/// bootstrap, the bench configs). Panics on a file without a `{{LISTEN_PORT}}` placeholder:
/// a runnable config binds fixed ports that parallel tests would fight over.
pub fn template_path(name: &str) -> PathBuf {
    let in_templates = root().join(TEMPLATES).join(name);
    if in_templates.exists() {
        in_templates
    } else {
        root().join("envoy").join(name)
    }
}

/// What to start an Envoy with: a config template ([`template_path`]), the policy, the
/// upstream's port, and what else the template or the test needs (more placeholders, the
/// plugin build, edits to the template, the number of workers). The harness fills
/// `LISTEN_PORT`, `ADMIN_PORT`, `ACCESS_LOG`, `WASM_PATH` ([`wasm_path`]), `POLICY` and
/// `IDP_PORT` (a port nobody listens on, so key fetches fail unless the test starts an
/// identity provider); [`Harness::var`] overrides any.
pub struct Harness {
    config: String,
    policy: String,
    upstream_port: u16,
    runtime: Runtime,
    module_dir: Option<PathBuf>,
    workers: u32,
    vars: Vec<(&'static str, String)>,
    edits: Vec<Edit>,
}

impl Harness {
    /// `config` names a template ([`template_path`]); `policy` is the policy JSON (empty for
    /// configs without the plugin or that get it another way, such as ECDS). One worker.
    pub fn new(config: &str, policy: impl Into<String>, upstream_port: u16) -> Harness {
        Harness {
            config: config.to_string(),
            policy: policy.into(),
            upstream_port,
            runtime: Runtime::Wasm,
            module_dir: None,
            workers: 1,
            vars: Vec::new(),
            edits: Vec::new(),
        }
    }

    /// Runs pci-guard in `runtime`: the template's wasm filter, or (for
    /// [`Runtime::Dynamic`]) the dynamic module in its place ([`to_dynamic`]), loaded from
    /// [`dynamic_module_dir`] through `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`.
    pub fn runtime(mut self, runtime: Runtime) -> Harness {
        self.runtime = runtime;
        self
    }

    /// Runs the dynamic module in `dir` (a fault-injection build) instead of
    /// [`dynamic_module_dir`]'s.
    pub fn dynamic_module(mut self, dir: &Path) -> Harness {
        self.module_dir = Some(dir.to_path_buf());
        self
    }

    /// Runs Envoy with `n` worker threads (`--concurrency n`), each with its own wasm VM.
    /// Istio's sidecars run two by default.
    pub fn workers(mut self, n: u32) -> Harness {
        assert!(n >= 1, "Envoy needs at least one worker");
        self.workers = n;
        self
    }

    /// Fills the placeholder `{{name}}` with `value`.
    pub fn var(mut self, name: &'static str, value: impl ToString) -> Harness {
        self.vars.push((name, value.to_string()));
        self
    }

    /// Runs this plugin build instead of [`wasm_path`].
    pub fn wasm(self, path: &Path) -> Harness {
        self.var("WASM_PATH", path.display())
    }

    /// Replaces `from` with `to` in the template; panics if the template has no `from`, so a
    /// config that changed shape cannot silently drop the variation a test relies on.
    pub fn replace(self, from: &str, to: &str) -> Harness {
        let (from, to) = (from.to_string(), to.to_string());
        self.edit(move |text| {
            assert!(
                text.contains(&from),
                "the config template has no {from:?}: it changed shape"
            );
            text.replace(&from, &to)
        })
    }

    /// Rewrites the template text before its placeholders are filled.
    pub fn edit(mut self, f: impl FnOnce(String) -> String + 'static) -> Harness {
        self.edits.push(Box::new(f));
        self
    }

    /// Starts Envoy and waits until it is ready; panics with the tail of its log if it is not.
    pub fn start(self) -> Envoy {
        match self.try_start() {
            Ok(e) => e,
            Err(f) => panic!(
                "Envoy did not start (exit {:?}):\n{}",
                f.exit_code,
                tail(&f.stderr, 40)
            ),
        }
    }

    /// Starts Envoy and waits (up to 30 s) until its admin `/ready` answers 200; the error
    /// says how it exited, for tests of configs Envoy must refuse.
    pub fn try_start(self) -> Result<Envoy, StartFailure> {
        let dir = TempDir::new("envoy");
        let port = free_port();
        let admin_port = free_port();
        let access_log = dir.path().join("access.log");
        let stderr_log = dir.path().join("envoy.stderr");
        let stdout_log = dir.path().join("envoy.stdout");
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("LISTEN_PORT", port.to_string());
        vars.insert("ADMIN_PORT", admin_port.to_string());
        vars.insert("UPSTREAM_PORT", self.upstream_port.to_string());
        vars.insert("ACCESS_LOG", access_log.display().to_string());
        vars.insert("WASM_PATH", wasm_path().display().to_string());
        vars.insert("POLICY", policy_scalar(&self.policy));
        vars.insert("IDP_PORT", free_port().to_string());
        vars.extend(self.vars);
        let path = template_path(&self.config);
        let mut template = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("config template {}: {e}", path.display()));
        assert!(
            template.contains("{{LISTEN_PORT}}"),
            "{} is a runnable config, not a template: tests render one from {TEMPLATES}",
            path.display()
        );
        for edit in self.edits {
            template = edit(template);
        }
        let mut command = Command::new(envoy_bin());
        if self.runtime == Runtime::Dynamic {
            template = to_dynamic(&template);
            let module_dir = self.module_dir.unwrap_or_else(dynamic_module_dir);
            command.env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", module_dir);
        }
        let config = dir.path().join("envoy.yaml");
        std::fs::write(&config, render(&template, &vars)).unwrap();
        let child = command
            .arg("-c")
            .arg(&config)
            .args(["--concurrency", &self.workers.to_string()])
            .args([
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
            workers: self.workers,
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
}

/// A running Envoy, killed on drop.
pub struct Envoy {
    child: Child,
    /// Worker threads (`--concurrency`), one wasm VM each.
    pub workers: u32,
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

    /// `[critical]` or panic lines Envoy logged (a wasm VM's, or a panic the dynamic module
    /// caught): a healthy run has none.
    pub fn critical_lines(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| l.contains("[critical]") || l.contains("panicked at"))
            .map(str::to_string)
            .collect()
    }

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

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
