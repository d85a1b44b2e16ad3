//! A real Prometheus server (Debian's `prometheus`) on a free loopback port, scraping what
//! a test names, read back through its HTTP API; and `promtool`'s checks.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running Prometheus; killed and its data removed on drop.
pub struct Prometheus {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

/// One scrape job: its name and targets (`host:port`).
pub struct Job<'a> {
    /// The `job` label.
    pub name: &'a str,
    /// The `host:port` of each target.
    pub targets: Vec<String>,
    /// The URL scheme (`http` or `https`).
    pub scheme: &'a str,
}

impl Prometheus {
    /// Starts Prometheus scraping `jobs` every 500 ms, with `rule_files` loaded, and waits
    /// until it is ready.
    pub fn start(jobs: &[Job<'_>], rule_files: &[&Path]) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("turtle-prometheus-")
            .tempdir()
            .expect("a temporary directory");
        let mut config =
            String::from("global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n");
        if !rule_files.is_empty() {
            config.push_str("rule_files:\n");
            for f in rule_files {
                config.push_str(&format!("  - {:?}\n", f.display().to_string()));
            }
        }
        config.push_str("scrape_configs:\n");
        for job in jobs {
            let targets: Vec<String> = job.targets.iter().map(|t| format!("{t:?}")).collect();
            config.push_str(&format!(
                "  - job_name: {:?}\n    scheme: {}\n    static_configs:\n      - targets: [{}]\n",
                job.name,
                job.scheme,
                targets.join(", ")
            ));
        }
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write prometheus.yml");
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("a log file");
        let child = Command::new(std::env::var("PROMETHEUS_BIN").unwrap_or("prometheus".into()))
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run prometheus (apt install prometheus)");
        let p = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        p.wait_ready();
        p
    }

    fn wait_ready(&self) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(&format!("http://{}/-/ready", self.addr)) {
                return;
            }
            assert!(Instant::now() < end, "prometheus not ready within 30 s");
            std::thread::sleep(Duration::from_millis(100)); // no event says "ready"
        }
    }

    /// The result of an instant query: `(labels, value)` of each series.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let body = self.api(&format!("query?query={}", encode(promql)));
        let mut out = Vec::new();
        for series in body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let labels = series["metric"].as_object().cloned().unwrap_or_default();
            let value = series["value"][1].as_str().and_then(|v| v.parse().ok());
            out.push((labels, value.unwrap_or(f64::NAN)));
        }
        out
    }

    /// Waits up to 30 s for `promql` to give a series `accept`s; its value.
    pub fn wait_for(&self, promql: &str, accept: impl Fn(f64) -> bool) -> f64 {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.query(promql);
            if let Some((_, v)) = got.iter().find(|(_, v)| accept(*v)) {
                return *v;
            }
            assert!(
                Instant::now() < end,
                "prometheus: {promql} gave {got:?} for 30 s"
            );
            // Scrapes happen on Prometheus's clock: nothing to await but its next one.
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A GET of `/api/v1/<path>`, its JSON.
    pub fn api(&self, path: &str) -> Value {
        let url = format!("http://{}/api/v1/{path}", self.addr);
        let (_, text) = http_get(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let v: Value = serde_json::from_str(&text).expect("JSON from prometheus");
        assert_eq!(v["status"], "success", "{url}: {text}");
        v
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET of `url`: its status (errors too) and body.
pub fn http_get(url: &str) -> Result<(u16, String), String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((resp.status().as_u16(), body))
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs `promtool check metrics` on `text`: `Err` with what it said when it objects.
pub fn promtool_check_metrics(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (apt install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// The value of the series `name{labels...}` in a text exposition (labels given must
/// match, others may be there); `None` when there is none.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (series, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}
