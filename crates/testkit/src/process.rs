//! The real `switchyard-control`, `switchyard-edge` and `switchyard` binaries, started as child
//! processes on free loopback ports.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The operator token the test control planes are started with.
pub const ADMIN_TOKEN: &str = "sy_admin_test_0123456789abcdef0123456789abcdef";

/// Path of a workspace binary, next to the test executable's `deps/` directory.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let path = dir.join(name);
    assert!(path.is_file(), "{} is missing: run `cargo build --workspace --bins` first", path.display());
    path
}

/// A running child process whose stdout announced `listening on <url>`.
pub(crate) struct Server {
    child: Child,
    url: String,
    /// `https://ADDR` if the server announced HTTPS (before its `listening on` line).
    https_url: Option<String>,
    log: PathBuf,
}

impl Server {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    pub(crate) fn start(mut command: Command, log: PathBuf) -> Server {
        let log_file = std::fs::File::create(&log).expect("log file");
        command.stdout(Stdio::piped()).stderr(log_file).stdin(Stdio::null());
        let mut child = command.spawn().expect("spawn server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout for the life of the process so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut https = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("serving https at ").nth(1) {
                    https = Some(url.trim().to_owned());
                }
                if let Some(url) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send((url.trim().to_owned(), https.take()));
                }
            }
        });
        let (url, https_url) = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(urls) => urls,
            Err(_) => {
                let _ = child.kill();
                let logs = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("server did not announce its address within 30 s; its log:\n{logs}");
            }
        };
        Server { child, url, https_url, log }
    }

    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..500 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `switchyard-control`.
pub struct Control {
    server: Server,
    pub data: PathBuf,
}

impl Control {
    /// Starts a control plane on a free port over `data`, with [`ADMIN_TOKEN`].
    pub fn start(data: &Path) -> Control {
        Self::start_with(data, &[])
    }

    /// Like [`Control::start`], with extra arguments. Preview and version hosts are public
    /// (`--public-previews`), as they were before shared previews, so tests of other features
    /// need no share links; [`Control::start_private_previews`] keeps them private.
    pub fn start_with(data: &Path, extra_args: &[&str]) -> Control {
        Self::start_command(data, extra_args, true)
    }

    /// A control plane on the production default: preview and version hosts private.
    pub fn start_private_previews(data: &Path, extra_args: &[&str]) -> Control {
        Self::start_command(data, extra_args, false)
    }

    fn start_command(data: &Path, extra_args: &[&str], public_previews: bool) -> Control {
        let mut cmd = Command::new(bin_path("switchyard-control"));
        if public_previews {
            cmd.env("SWITCHYARD_PUBLIC_PREVIEWS", "true");
        } else {
            cmd.env_remove("SWITCHYARD_PUBLIC_PREVIEWS");
        }
        if !extra_args.contains(&"--api-addr") {
            cmd.args(["--api-addr", "127.0.0.1:0"]);
        }
        cmd.args(["--base-domain", crate::BASE, "--data"]).arg(data).args(extra_args);
        cmd.env("SWITCHYARD_ADMIN_TOKEN", ADMIN_TOKEN).env("RUST_LOG", "info,switchyard_control=debug");
        let log = data.with_extension("control.log");
        Control { server: Server::start(cmd, log), data: data.to_owned() }
    }

    /// Starts a control plane over `data` on the address of `url` (e.g. to come back where
    /// running edges look for it after a crash).
    pub fn start_at(data: &Path, url: &str) -> Control {
        Self::start_with(data, &["--api-addr", url.trim_start_matches("http://")])
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.server.log).unwrap_or_default()
    }

    /// SIGTERM, then wait for exit.
    pub fn stop(mut self) {
        self.server.stop();
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(self) {}

    /// The process id (to read its CPU time and memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.server.child.id()
    }
}

/// A running `switchyard-edge`.
pub struct Edge {
    server: Server,
    pub cache: PathBuf,
}

impl Edge {
    pub fn start(control_url: &str, token: &str, cache: &Path, base_domain: &str) -> Edge {
        Self::start_with(control_url, token, cache, base_domain, &[])
    }

    /// Like [`Edge::start`], with extra arguments.
    pub fn start_with(control_url: &str, token: &str, cache: &Path, base_domain: &str, extra_args: &[&str]) -> Edge {
        let mut cmd = Command::new(bin_path("switchyard-edge"));
        cmd.args(extra_args);
        cmd.args(["--control-plane", control_url, "--token", token, "--http-addr", "127.0.0.1:0"]);
        if !extra_args.contains(&"--name") {
            cmd.args(["--name", "test-edge"]);
        }
        cmd.args(["--base-domain", base_domain, "--cache-dir"]).arg(cache);
        cmd.env("RUST_LOG", "info,switchyard_edge=debug");
        let log = cache.with_extension("edge.log");
        Edge { server: Server::start(cmd, log), cache: cache.to_owned() }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.server.url
    }

    pub fn addr(&self) -> &str {
        self.url().trim_start_matches("http://")
    }

    /// `127.0.0.1:PORT` of the HTTPS listener (started with `--https-addr`).
    pub fn https_addr(&self) -> &str {
        self.server.https_url.as_deref().expect("the edge serves HTTPS").trim_start_matches("https://")
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.server.log).unwrap_or_default()
    }

    pub fn stop(mut self) {
        self.server.stop();
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(self) {}

    /// The process id (to read its CPU time and memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.server.child.id()
    }
}

/// Runs the `switchyard` CLI with `args` against `api` as `token`; returns its output.
pub fn run_cli(api: &str, token: &str, args: &[&str]) -> Output {
    Command::new(bin_path("switchyard"))
        .args(args)
        .env("SWITCHYARD_API", api)
        .env("SWITCHYARD_TOKEN", token)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run switchyard")
}
