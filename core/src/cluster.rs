//! The cluster as its members describe it: the member list with its leader (what
//! `etcdctl member list` shows) and each member's status asked now (what `etcdctl
//! endpoint health` and `endpoint status` show).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::error::Result;
use crate::member::Member;
use crate::pool::Pool;
use crate::retry::Op;

/// One member of the cluster, as the cluster lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMember {
    /// The member's id (etcdctl prints it in hex).
    pub id: u64,
    /// Its name; empty for a member added but not started yet.
    pub name: String,
    /// The URLs it serves clients on (empty until started).
    pub client_urls: Vec<String>,
    /// The URLs its peers reach it on.
    pub peer_urls: Vec<String>,
    /// Whether it is the leader now.
    pub is_leader: bool,
    /// Whether it is a learner (a non-voting member catching up).
    pub is_learner: bool,
}

/// One member's status, asked now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// The member's endpoint, as this client knows it.
    pub endpoint: String,
    /// Whether it answered within the limit.
    pub reachable: bool,
    /// How long its answer took.
    pub round_trip: Option<Duration>,
    /// Its id (0 when unreachable).
    pub member_id: u64,
    /// The id of the leader it follows (0: it knows no leader, or is unreachable).
    pub leader_id: u64,
    /// Its raft term.
    pub raft_term: u64,
    /// Its raft index.
    pub raft_index: u64,
    /// Its etcd version.
    pub version: String,
    /// The size of its database, in bytes.
    pub db_size: i64,
    /// The alarms it reports (e.g. "NOSPACE").
    pub alarms: Vec<String>,
    /// Why it is not reachable.
    pub error: Option<String>,
}

impl MemberStatus {
    /// Whether it knows a leader.
    pub fn has_leader(&self) -> bool {
        self.leader_id != 0
    }

    /// Reachable, with a leader, and no alarm: what `etcdctl endpoint health` calls healthy.
    pub fn is_healthy(&self) -> bool {
        self.reachable && self.has_leader() && self.alarms.is_empty()
    }
}

/// The cluster's member list, the leader marked (as any member that answers says).
pub(crate) async fn members(pool: &Pool, deadline: Duration) -> Result<Vec<ClusterMember>> {
    let listed = member_list(pool, deadline).await?;
    let status = pool
        .run(Op::STATUS, deadline, |m| {
            let mut c = m.maintenance.clone();
            async move { c.status().await }
        })
        .await?;
    Ok((listed.members().iter())
        .map(|m| ClusterMember {
            id: m.id(),
            name: m.name().to_string(),
            client_urls: m.client_urls().to_vec(),
            peer_urls: m.peer_urls().to_vec(),
            is_leader: m.id() == status.leader(),
            is_learner: m.is_learner(),
        })
        .collect())
}

/// The cluster's member list, as any member that answers says.
pub(crate) async fn member_list(
    pool: &Pool,
    deadline: Duration,
) -> Result<etcd_client::MemberListResponse> {
    pool.run(Op::MEMBER_LIST, deadline, |m| {
        let mut c = m.cluster.clone();
        async move { c.member_list().await }
    })
    .await
}

/// Every member of the pool asked for its status at once, each within `limit`.
pub(crate) async fn health(pool: &Pool, limit: Duration) -> Vec<MemberStatus> {
    join_all(pool.all().into_iter().map(|m| status(m, limit))).await
}

async fn status(m: Arc<Member>, limit: Duration) -> MemberStatus {
    let start = Instant::now();
    let answer = m.status_within(limit).await;
    let mut s = MemberStatus {
        endpoint: m.label.clone(),
        reachable: false,
        round_trip: None,
        member_id: 0,
        leader_id: 0,
        raft_term: 0,
        raft_index: 0,
        version: String::new(),
        db_size: 0,
        alarms: Vec::new(),
        error: None,
    };
    match answer {
        Ok(r) => {
            s.reachable = true;
            s.round_trip = Some(start.elapsed());
            s.member_id = r.header().map(|h| h.member_id()).unwrap_or(0);
            s.leader_id = r.leader();
            s.raft_term = r.raft_term();
            s.raft_index = r.raft_index();
            s.version = r.version().to_string();
            s.db_size = r.db_size();
            s.alarms = r.errors().to_vec();
        }
        Err(e) => s.error = Some(e.to_string()),
    }
    s
}
