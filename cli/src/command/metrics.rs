//! `turtle metrics [--from ADDR]`: metrics in Prometheus's text format, or with `--json`
//! one object per sample.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::{failure, finder, print, Failure, Global, Outcome};

/// Prints the metrics of this command's own client, or of a finder's `/metrics`.
pub(crate) fn run(g: &Global, from: Option<&str>) -> Outcome {
    let text = match from {
        Some(addr) => scrape(&check_addr(addr)?, g.timeout.unwrap_or(5.0))?,
        None => {
            let f = finder(g)?;
            f.members()?;
            f.metrics()?
        }
    };
    match g.json {
        true => {
            let samples = samples(&text).map_err(|e| failure(1, e))?;
            print::emit(&json!({ "samples": samples }).to_string());
        }
        false => print::emit(text.trim_end_matches('\n')),
    }
    Ok(())
}

/// `HOST:PORT` as `--from` takes it, or a usage error (exit 2).
fn check_addr(addr: &str) -> Result<String, Failure> {
    let bad = || {
        failure(
            2,
            format!("--from {addr:?} is not HOST:PORT (e.g. 127.0.0.1:9464)"),
        )
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && !host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/?#@".contains(c));
    match (host_ok, port.parse::<u16>()) {
        (true, Ok(p)) if p > 0 => Ok(addr.to_string()),
        _ => Err(bad()),
    }
}

/// GET http://ADDR/metrics.
fn scrape(addr: &str, timeout: f64) -> Result<String, Failure> {
    let url = format!("http://{addr}/metrics");
    let limit = Duration::try_from_secs_f64(timeout)
        .map_err(|_| failure(2, format!("--timeout {timeout} is not a number of seconds")))?;
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(limit))
        .build()
        .new_agent();
    let mut resp = agent
        .get(&url)
        .call()
        .map_err(|e| failure(1, format!("{url}: {e}")))?;
    resp.body_mut()
        .read_to_string()
        .map_err(|e| failure(1, format!("{url}: {e}")))
}

/// The samples of Prometheus's text format: `{"name", "labels", "value"}` each.
fn samples(text: &str) -> Result<Vec<Value>, String> {
    let lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    lines
        .map(|l| sample(l).ok_or_else(|| format!("not a metrics line: {l:?}")))
        .collect()
}

/// One sample line: `name{k="v",...} value [timestamp]`.
fn sample(line: &str) -> Option<Value> {
    let space = line.find(' ')?;
    let (name, mut rest, labelled) = match line.find('{') {
        Some(i) if i < space => (&line[..i], &line[i + 1..], true),
        _ => (&line[..space], &line[space..], false),
    };
    let mut labels = Map::new();
    if labelled {
        loop {
            rest = rest.trim_start_matches(',');
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest.split_once("=\"")?;
            let (value, after) = unquote(after)?;
            labels.insert(key.trim().to_string(), Value::String(value));
            rest = after;
        }
    }
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    Some(json!({"name": name, "labels": labels, "value": value}))
}

/// A label value up to its closing quote, unescaped, and what follows the quote.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => out.push(match chars.next()?.1 {
                'n' => '\n',
                c => c,
            }),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_becomes_samples_and_bad_addresses_are_usage_errors() {
        let text = "# HELP x y\n# TYPE x counter\nturtle_watches 3\n\
                    turtle_requests_total{member=\"a:1\",operation=\"get\\\"s\"} 2\n";
        let got = samples(text).unwrap();
        assert_eq!(
            got[0],
            json!({"name": "turtle_watches", "labels": {}, "value": 3.0})
        );
        assert_eq!(got[1]["labels"]["operation"], "get\"s");
        assert_eq!(got[1]["value"], 2.0);
        assert!(samples("turtle_x{a=\"b} 1").is_err());
        for bad in ["not an addr", "host", ":80", "h:0", "h:99999", "a/b:80"] {
            assert_eq!(check_addr(bad).err().map(|f| f.code), Some(2), "{bad}");
        }
        assert!(check_addr("127.0.0.1:9464").is_ok() && check_addr("[::1]:9464").is_ok());
    }
}
