//! `Member` and `MemberStatus`: the cluster's members and each member's health.

use pyo3::prelude::*;

/// One member of the cluster, as it lists itself (`etcdctl member list`).
#[pyclass(module = "turtle_finder._native", frozen, get_all)]
pub(crate) struct Member {
    /// The member's id.
    id: u64,
    /// Its name ("" for a member added but not started yet).
    name: String,
    /// The URLs it serves clients on.
    client_urls: Vec<String>,
    /// The URLs its peers reach it on.
    peer_urls: Vec<String>,
    /// Whether it is the leader.
    is_leader: bool,
    /// Whether it is a learner.
    is_learner: bool,
}

impl From<turtle_finder::ClusterMember> for Member {
    fn from(m: turtle_finder::ClusterMember) -> Member {
        Member {
            id: m.id,
            name: m.name,
            client_urls: m.client_urls,
            peer_urls: m.peer_urls,
            is_leader: m.is_leader,
            is_learner: m.is_learner,
        }
    }
}

#[pymethods]
impl Member {
    fn __repr__(&self) -> String {
        format!(
            "Member(id={:#x}, name={:?}, client_urls={:?}, is_leader={})",
            self.id,
            self.name,
            self.client_urls,
            if self.is_leader { "True" } else { "False" }
        )
    }
}

/// One member's status, asked now (`etcdctl endpoint health` and `endpoint status`).
#[pyclass(module = "turtle_finder._native", frozen, get_all)]
pub(crate) struct MemberStatus {
    /// The member's endpoint as the finder knows it.
    endpoint: String,
    /// Whether it answered within the limit.
    reachable: bool,
    /// Reachable, with a leader, and no alarm.
    healthy: bool,
    /// How long its answer took, in seconds (None when unreachable).
    round_trip: Option<f64>,
    /// Its id (0 when unreachable).
    member_id: u64,
    /// The id of the leader it follows (0: none known, or unreachable).
    leader_id: u64,
    /// Its raft term.
    raft_term: u64,
    /// Its raft index.
    raft_index: u64,
    /// Its etcd version ("" when unreachable).
    version: String,
    /// Its database size in bytes.
    db_size: i64,
    /// Its alarms, e.g. ["NOSPACE"].
    alarms: Vec<String>,
    /// Why it is unreachable (None when reachable).
    error: Option<String>,
}

impl From<turtle_finder::MemberStatus> for MemberStatus {
    fn from(s: turtle_finder::MemberStatus) -> MemberStatus {
        MemberStatus {
            healthy: s.is_healthy(),
            endpoint: s.endpoint,
            reachable: s.reachable,
            round_trip: s.round_trip.map(|d| d.as_secs_f64()),
            member_id: s.member_id,
            leader_id: s.leader_id,
            raft_term: s.raft_term,
            raft_index: s.raft_index,
            version: s.version,
            db_size: s.db_size,
            alarms: s.alarms,
            error: s.error,
        }
    }
}

#[pymethods]
impl MemberStatus {
    fn __repr__(&self) -> String {
        match &self.error {
            None => format!(
                "MemberStatus(endpoint={:?}, healthy={}, round_trip={:.6}, raft_term={}, leader_id={:#x})",
                self.endpoint,
                if self.healthy { "True" } else { "False" },
                self.round_trip.unwrap_or_default(),
                self.raft_term,
                self.leader_id
            ),
            Some(e) => format!("MemberStatus(endpoint={:?}, reachable=False, error={e:?})", self.endpoint),
        }
    }
}
