//! Key-value reads through the pool: one key, or a range, with the read's revision.

use std::time::Duration;

use crate::config::Consistency;
use crate::delivery::KeyValue;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::Pool;
use crate::retry::Op;

impl Pool {
    /// Reads one key: the value with its mod revision, and the read's revision.
    pub(crate) async fn read(
        &self,
        op: Op,
        key: &[u8],
        deadline: Duration,
        consistency: Consistency,
    ) -> Result<(Option<(Vec<u8>, i64)>, i64)> {
        let (kvs, rev) = self
            .read_range(op, key, None, deadline, consistency)
            .await?;
        let first = kvs.into_iter().next();
        Ok((
            first.map(|kv| (kv.value.unwrap_or_default(), kv.revision)),
            rev,
        ))
    }

    /// Reads the keys from `key` up to `range_end` (just `key` without one), and the
    /// read's revision.
    pub(crate) async fn read_range(
        &self,
        op: Op,
        key: &[u8],
        range_end: Option<&[u8]>,
        deadline: Duration,
        consistency: Consistency,
    ) -> Result<(Vec<KeyValue>, i64)> {
        let mut opts = etcd_client::GetOptions::new();
        if consistency == Consistency::Serializable {
            opts = opts.with_serializable();
        }
        if let Some(end) = range_end {
            opts = opts.with_range(end);
        }
        let read = self.run(op, deadline, |m| {
            let mut kv = m.kv.clone();
            let (key, opts) = (key.to_vec(), opts.clone());
            async move {
                let resp = kv.get(key, Some(opts)).await?;
                let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
                let kvs = (resp.kvs().iter())
                    .map(|kv| KeyValue {
                        key: kv.key().to_vec(),
                        value: Some(kv.value().to_vec()),
                        revision: kv.mod_revision(),
                        created: kv.create_revision(),
                    })
                    .collect();
                Ok((kvs, rev))
            }
        });
        read.await.map_err(|e| match e.kind() {
            ErrorKind::PermissionDenied => Error::new(
                ErrorKind::PermissionDenied,
                format!("reading {}: {}", String::from_utf8_lossy(key), e.message()),
            ),
            _ => e,
        })
    }
}
