//! A PostgreSQL cluster of the test's own (Debian's `postgresql` package): `initdb` in a temp
//! dir, `pg_ctl start` on 127.0.0.1 and a free port (socket in the same dir), stopped and
//! removed when dropped. As root, the server runs as the `postgres` user (PostgreSQL refuses
//! root). When it cannot start, [`Pg::start`] says why; [`Pg::require`] then skips the test
//! with that message, except under `CI=true`, where it fails.

use super::TempDir;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Pg {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    fsync: bool,
    as_user: Option<&'static str>,
    dir: TempDir,
    running: bool,
}

fn bin_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Pg {
    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match self.as_user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    /// Starts a new cluster (`fsync` off: tests need no durability), or says why it cannot.
    pub fn start() -> Result<Pg, String> {
        Pg::start_with(false)
    }

    /// As [`Pg::start`], with `fsync` as given (the benchmark keeps it on, as in production).
    pub fn start_with(fsync: bool) -> Result<Pg, String> {
        let bin = bin_dir().ok_or("no PostgreSQL server (apt-get install postgresql)")?;
        let dir = TempDir::new("pg");
        let as_user = is_root().then_some("postgres");
        if as_user.is_some() {
            // The server's user must own its data and reach the socket directory.
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir.0)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut pg = Pg {
            port,
            bin,
            data: dir.0.join("data"),
            fsync,
            as_user,
            dir,
            running: false,
        };
        let out = pg
            .cmd("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&pg.data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        pg.start_again()?;
        Ok(pg)
    }

    /// Starts (again) the stopped cluster on the same port and data.
    pub fn start_again(&mut self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=100",
            self.port,
            self.dir.0.display(),
            if self.fsync { "on" } else { "off" }
        );
        let out = self
            .cmd("pg_ctl")
            .args(["-w", "-t", "30", "-D"])
            .arg(&self.data)
            .args(["-o", &opts, "-l"])
            .arg(self.dir.0.join("log"))
            .arg("start")
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.0.join("log")).unwrap_or_default();
            return Err(format!(
                "pg_ctl start failed: {}{log}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.running = true;
        Ok(())
    }

    pub fn stop(&mut self) {
        if self.running {
            let _ = self
                .cmd("pg_ctl")
                .args(["-w", "-m", "immediate", "-D"])
                .arg(&self.data)
                .arg("stop")
                .output();
            self.running = false;
        }
    }

    /// A new, empty database in the cluster; its URL.
    pub fn database(&self, name: &str) -> String {
        let out = self
            .cmd("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-c",
            ])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// A cluster, or `None` after saying plainly why the test does not run (a failure under
    /// `CI=true`: CI must run every backend).
    pub fn require(test: &str) -> Option<Pg> {
        match Pg::start() {
            Ok(pg) => Some(pg),
            Err(why) => {
                let msg = format!("{test}: PostgreSQL could not be started, test NOT run: {why}");
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{msg}");
                }
                eprintln!("{msg}");
                None
            }
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.stop();
    }
}
