//! `turtle metrics [--from ADDR]`: metrics in Prometheus's text format.

use std::time::Duration;

use crate::{failure, finder, print, Failure, Global, Outcome};

/// Prints the metrics of this command's own client, or of a finder's `/metrics`.
pub(crate) fn run(g: &Global, from: Option<&str>) -> Outcome {
    let text = match from {
        Some(addr) => scrape(addr, g.timeout.unwrap_or(5.0))?,
        None => {
            let f = finder(g)?;
            f.members()?;
            f.metrics()?
        }
    };
    print::emit(text.trim_end_matches('\n'));
    Ok(())
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
