//! `propagation`: how fast a promotion reaches a fleet of edge processes on loopback, and what
//! the control plane costs with that fleet connected.
//!
//! Starts `switchyard-control` and `EDGES` `switchyard-edge` processes (from the directory of
//! this binary, or `BIN_DIR`) on ports 18500.. (`PORT_BASE`), pinned to `SERVER_CPU` with
//! `taskset` when set; deploys two versions of a small app; then promotes `PROMOTIONS` times,
//! alternating the two, and after each promote's API answer polls every edge (one task per
//! edge, a request every `POLL_MS` ms) until it serves the new version. Prints p50/p99/max of
//! the per-edge times and of the slowest edge per promotion, and the control plane's CPU time
//! and RSS (from `/proc`) while idle with the fleet connected and during the promotions.
//!
//! Run through `benches/propagation.sh`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_testkit::archive::{file, tar_gz};

const ADMIN: &str = "sya_bench_0123456789abcdef0123456789abcdef0123456789abcdef";
const BASE: &str = "bench.test";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(bin: &std::path::Path, args: &[String], log: &std::path::Path) -> Child {
    let mut cmd = match std::env::var("SERVER_CPU") {
        Ok(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu]).arg(bin);
            c
        }
        Err(_) => Command::new(bin),
    };
    cmd.args(args)
        .env("SWITCHYARD_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    cmd.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
}

/// CPU seconds (user + system) and RSS / peak RSS in KiB of `pid`.
fn proc_usage(pid: u32) -> (f64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/pid/stat");
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/pid/status");
    let kib = |key: &str| {
        status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
    };
    (ticks as f64 / hz, kib("VmRSS:"), kib("VmHWM:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

async fn api(http: &reqwest::Client, url: &str, token: &str, method: &str, path: &str, body: Value) -> Value {
    let req = http.request(method.parse().unwrap(), format!("{url}/v1/{path}")).bearer_auth(token);
    let req = if body.is_null() { req } else { req.json(&body) };
    let r = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

async fn version_of(http: &reqwest::Client, edge: &str) -> Option<String> {
    let r = http.get(format!("{edge}/")).header("host", format!("cart.{BASE}")).send().await.ok()?;
    Some(r.headers().get("x-switchyard-version")?.to_str().ok()?.to_owned())
}

#[tokio::main]
async fn main() {
    let edges = env("EDGES", 20) as usize;
    let promotions = env("PROMOTIONS", 50) as usize;
    let poll = Duration::from_millis(env("POLL_MS", 2));
    let port = env("PORT_BASE", 18500);
    let idle = Duration::from_secs(env("IDLE_SECS", 10));
    let bin_dir = std::env::var("BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::current_exe().unwrap().parent().unwrap().to_owned());
    let work = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder().pool_max_idle_per_host(4).build().unwrap();

    let control_url = format!("http://127.0.0.1:{port}");
    let mut children = Children(Vec::new());
    let control_args: Vec<String> = [
        "--api-addr",
        &format!("127.0.0.1:{port}"),
        "--base-domain",
        BASE,
        "--data",
        &work.path().join("control").display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    children.0.push(spawn(&bin_dir.join("switchyard-control"), &control_args, &work.path().join("control.log")));
    let control_pid = children.0[0].id();
    let started = Instant::now();
    while http.get(format!("{control_url}/v1/health")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the control plane did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let tenant = api(&http, &control_url, ADMIN, "POST", "tenants", json!({ "name": "bench" })).await;
    let token = tenant["token"].as_str().unwrap().to_owned();
    api(&http, &control_url, &token, "POST", "apps", json!({ "name": "cart" })).await;
    for (v, query) in [("v1", "promote=true"), ("v2", "")] {
        let bundle = tar_gz(&[
            file("index.html", format!("<h1>cart {v}</h1>")),
            file("assets/app.js", format!("console.log('{v}')").repeat(200)),
            file("shared/logo.svg", "<svg>same in both</svg>"),
        ]);
        let url = format!("{control_url}/v1/apps/cart/versions?{query}");
        let r = http.post(url).bearer_auth(&token).body(bundle).send().await.unwrap();
        assert!(r.status().is_success(), "deploy {v}: {}", r.status());
    }
    let edge_token =
        api(&http, &control_url, ADMIN, "POST", "edge-tokens", Value::Null).await["token"].as_str().unwrap().to_owned();

    let mut edge_urls = Vec::new();
    for i in 0..edges {
        let addr = format!("127.0.0.1:{}", port + 1 + i as u64);
        let cache = work.path().join(format!("edge-{i:02}"));
        let args: Vec<String> = [
            "--control-plane",
            &control_url,
            "--token",
            &edge_token,
            "--http-addr",
            &addr,
            "--base-domain",
            BASE,
            "--name",
            &format!("edge-{i:02}"),
            "--region",
            &format!("region-{}", i % 4),
            "--cache-dir",
            &cache.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        children.0.push(spawn(&bin_dir.join("switchyard-edge"), &args, &cache.with_extension("log")));
        edge_urls.push(format!("http://{addr}"));
    }
    let started = Instant::now();
    for edge in &edge_urls {
        while version_of(&http, edge).await.as_deref() != Some("v1") {
            assert!(started.elapsed() < Duration::from_secs(60), "{edge} did not start serving v1");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("{edges} edges serving v1; idling {idle:?} with the fleet connected");

    let (cpu0, _, _) = proc_usage(control_pid);
    tokio::time::sleep(idle).await;
    let (cpu1, idle_rss, _) = proc_usage(control_pid);
    let fleet = api(&http, &control_url, ADMIN, "GET", "edges", Value::Null).await;
    let in_sync = fleet["edges"].as_array().unwrap().iter().filter(|e| e["state"] == "in_sync").count();

    let mut per_edge = Vec::new();
    let mut slowest = Vec::new();
    let mut api_ms = Vec::new();
    let mut timeouts = 0;
    let measured = Instant::now();
    for n in 0..promotions {
        let target = if n % 2 == 0 { "v2" } else { "v1" };
        let sent = Instant::now();
        api(&http, &control_url, &token, "POST", "apps/cart/promote", json!({ "version": target })).await;
        let answered = Instant::now();
        api_ms.push((answered - sent).as_secs_f64() * 1000.0);
        let tasks: Vec<_> = edge_urls
            .iter()
            .map(|edge| {
                let (http, edge) = (http.clone(), edge.clone());
                tokio::spawn(async move {
                    loop {
                        if version_of(&http, &edge).await.as_deref() == Some(target) {
                            return Some(answered.elapsed());
                        }
                        if answered.elapsed() > Duration::from_secs(5) {
                            return None;
                        }
                        tokio::time::sleep(poll).await;
                    }
                })
            })
            .collect();
        let mut worst: f64 = 0.0;
        for t in tasks {
            match t.await.unwrap() {
                Some(d) => {
                    let ms = d.as_secs_f64() * 1000.0;
                    worst = worst.max(ms);
                    per_edge.push(ms);
                }
                None => timeouts += 1,
            }
        }
        slowest.push(worst);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let busy = measured.elapsed();
    let (cpu2, busy_rss, peak_rss) = proc_usage(control_pid);

    per_edge.sort_by(f64::total_cmp);
    slowest.sort_by(f64::total_cmp);
    api_ms.sort_by(f64::total_cmp);
    let row = |name: &str, v: &[f64]| {
        format!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} |",
            v.len(),
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        )
    };
    println!("{edges} edges, {promotions} promotions, polling each edge every {} ms", poll.as_millis());
    println!();
    println!("| from the promote's API answer to … (ms) | samples | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    println!("{}", row("each edge serving the new version", &per_edge));
    println!("{}", row("the slowest edge of each promotion", &slowest));
    println!("{}", row("(the promote API call itself)", &api_ms));
    println!();
    println!("timeouts (edge not serving within 5 s): {timeouts}");
    println!("edges in sync at the end of the idle window: {in_sync}/{edges}");
    println!();
    println!("| control plane | CPU | RSS |");
    println!("|---|---|---|");
    println!(
        "| idle {:.0} s, {edges} edges long-polling + heartbeats | {:.2} % of one core | {} MiB |",
        idle.as_secs_f64(),
        (cpu1 - cpu0) / idle.as_secs_f64() * 100.0,
        idle_rss / 1024
    );
    println!(
        "| {promotions} promotions in {:.1} s | {:.1} % of one core | {} MiB (peak {} MiB) |",
        busy.as_secs_f64(),
        (cpu2 - cpu1) / busy.as_secs_f64() * 100.0,
        busy_rss / 1024,
        peak_rss / 1024
    );
}
