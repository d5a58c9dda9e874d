//! The Envoy process: a config template rendered with free ports and the test's values,
//! started, waited for until ready, queried for stats, and killed on drop.

use std::collections::{BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{request, Response};
use crate::files::{root, TempDir};

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

pub struct EnvoyOptions<'a> {
    /// Config template file under `envoy/`.
    pub config: &'a str,
    pub policy: String,
    pub upstream_port: u16,
    pub extra: Vec<(&'a str, String)>,
}

/// A running Envoy (one worker), killed on drop.
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

    /// `[critical]` or wasm panic lines Envoy logged: a healthy run has none.
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
