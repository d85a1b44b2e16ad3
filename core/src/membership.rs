//! Membership refresh: with auto-sync, the cluster's member list every interval and after a
//! request found no member answering; with DNS SRV discovery, the records again after such
//! a request. Started by `Client::connect`, as etcd's `newClient` starts `autoSync`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::sleep;

use crate::cluster::member_list;
use crate::config::Config;
use crate::discovery::{self, Discovery};
use crate::endpoints::Endpoint;
use crate::error::Result;
use crate::pool::Pool;

/// Starts the pool's membership task when the settings ask for one.
pub(crate) fn start(pool: &Arc<Pool>) {
    if pool.cfg.auto_sync.is_some() || pool.cfg.discovery.is_some() {
        tokio::spawn(membership(Arc::downgrade(pool)));
    }
}

/// The cluster's members as it lists them: a client URL of each (https when TLS is set,
/// else http, else what there is).
async fn listed_members(pool: &Pool) -> Result<Vec<Endpoint>> {
    let listed = member_list(pool, pool.cfg.deadline).await?;
    let tls = pool.has_tls();
    let mut out = Vec::new();
    for member in listed.members() {
        let urls = member.client_urls();
        let pick = (urls.iter())
            .find(|u| u.starts_with("https://") == tls)
            .or_else(|| urls.first());
        if let Some(e) = pick.and_then(|u| Endpoint::parse(u).ok()) {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Where the pool's discovery looks.
pub(crate) fn discovery_of(cfg: &Config, domain: &str) -> Discovery {
    Discovery {
        domain: domain.to_string(),
        name_server: cfg.name_server,
    }
}

/// The pool's membership task: with auto-sync, the cluster's member list every interval
/// and after a request found no member answering; with DNS SRV discovery, the records
/// again after such a request. When the members cannot be looked up after such a request
/// (the learned ones stopped answering), the seeds come back. At most once a second; ends
/// with the pool.
async fn membership(pool: Weak<Pool>) {
    loop {
        let (interval, notified) = {
            let Some(p) = pool.upgrade() else { return };
            let interval = p.cfg.auto_sync.unwrap_or(Duration::from_secs(3600));
            let notified = async move { p.look_again().await };
            (interval, notified)
        };
        let failed = tokio::select! {
            _ = sleep(interval) => false,
            _ = notified => true,
        };
        let Some(p) = pool.upgrade() else { return };
        let found = match (&p.cfg.discovery, p.cfg.auto_sync) {
            (_, Some(_)) => listed_members(&p).await,
            (Some(domain), None) => {
                discovery::resolve(&discovery_of(&p.cfg, domain), p.cfg.deadline).await
            }
            (None, None) => return,
        };
        let _ = match found {
            Ok(endpoints) => p.follow(&endpoints).await,
            Err(_) if failed => p.restore_seeds().await,
            Err(_) => Ok(()),
        };
        drop(p);
        sleep(Duration::from_secs(1)).await;
    }
}
