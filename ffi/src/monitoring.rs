//! Monitoring from C: the metrics text, the cluster's members and each member's health.

use std::ffi::c_char;

use ::turtle_finder::{ClusterMember, MemberStatus};

use crate::boundary::{arg_out, guard};
use crate::finder::{turtle_finder, FINDERS};
use crate::status::{c_string, turtle_status};
use crate::views::Strings;

/// Writes the finder's metrics in Prometheus's text format to `*out_text`, a new string
/// the caller frees with `turtle_string_free`. TURTLE_INVALID_ARGUMENT when the metrics
/// are off (`turtle_config_set_metrics`).
///
/// # Safety
/// `out_text` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_finder_metrics(
    finder: *mut turtle_finder,
    out_text: *mut *mut c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out_text, "out_text") }?;
        let text = FINDERS.get(finder, "finder")?.metrics()?;
        *out = c_string(&text).into_raw();
        Ok(())
    })
}

/// Writes where the finder serves `/metrics` ("ip:port") to `*out_addr`, a new string the
/// caller frees with `turtle_string_free`; NULL when it serves none.
///
/// # Safety
/// `out_addr` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_finder_metrics_addr(
    finder: *mut turtle_finder,
    out_addr: *mut *mut c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out_addr, "out_addr") }?;
        let addr = FINDERS.get(finder, "finder")?.metrics_addr();
        *out = addr.map_or(std::ptr::null_mut(), |a| {
            c_string(&a.to_string()).into_raw()
        });
        Ok(())
    })
}

/// One member of the cluster, as it lists itself. Its strings live as long as the list.
#[repr(C)]
pub struct turtle_member {
    /// The member's id.
    pub id: u64,
    /// Its name ("" for a member added but not started yet).
    pub name: *const c_char,
    /// The URLs it serves clients on.
    pub client_urls: *const *const c_char,
    /// How many `client_urls` there are.
    pub client_urls_len: usize,
    /// The URLs its peers reach it on.
    pub peer_urls: *const *const c_char,
    /// How many `peer_urls` there are.
    pub peer_urls_len: usize,
    /// Whether it is the leader.
    pub is_leader: bool,
    /// Whether it is a learner.
    pub is_learner: bool,
}

/// The cluster's members, from `turtle_finder_members`; freed with `turtle_members_free`.
#[repr(C)]
pub struct turtle_members {
    /// The members.
    pub items: *const turtle_member,
    /// How many `items` there are.
    pub len: usize,
}

/// One member's status, asked now. Its strings live as long as the list.
#[repr(C)]
pub struct turtle_member_status {
    /// The member's endpoint as the finder knows it.
    pub endpoint: *const c_char,
    /// Whether it answered within the limit.
    pub reachable: bool,
    /// Reachable, with a leader, and no alarm.
    pub healthy: bool,
    /// How long its answer took, in microseconds (0 when unreachable).
    pub round_trip_us: u64,
    /// Its id (0 when unreachable).
    pub member_id: u64,
    /// The leader it follows (0: none known, or unreachable).
    pub leader_id: u64,
    /// Its raft term.
    pub raft_term: u64,
    /// Its raft index.
    pub raft_index: u64,
    /// Its etcd version ("" when unreachable).
    pub version: *const c_char,
    /// Its database size, in bytes.
    pub db_size: i64,
    /// Its alarms, comma-separated ("" when none).
    pub alarms: *const c_char,
    /// Why it is unreachable; NULL when reachable.
    pub error: *const c_char,
}

/// Every member's status, from `turtle_finder_health`; freed with `turtle_health_free`.
#[repr(C)]
pub struct turtle_health {
    /// One entry per member, in the finder's order.
    pub items: *const turtle_member_status,
    /// How many `items` there are.
    pub len: usize,
}

/// A C view and the memory it points into; the view comes first, so a pointer to one is
/// a pointer to the other.
#[repr(C)]
struct Owned<V, I> {
    view: V,
    items: Vec<I>,
    strings: Strings,
}

fn members_view(list: &[ClusterMember]) -> Box<Owned<turtle_members, turtle_member>> {
    let mut s = Strings::default();
    let items: Vec<turtle_member> = (list.iter())
        .map(|m| {
            let (client_urls, client_urls_len) = s.keep_all(&m.client_urls);
            let (peer_urls, peer_urls_len) = s.keep_all(&m.peer_urls);
            turtle_member {
                id: m.id,
                name: s.keep(&m.name),
                client_urls,
                client_urls_len,
                peer_urls,
                peer_urls_len,
                is_leader: m.is_leader,
                is_learner: m.is_learner,
            }
        })
        .collect();
    Box::new(Owned {
        view: turtle_members {
            items: items.as_ptr(),
            len: items.len(),
        },
        items,
        strings: s,
    })
}

fn health_view(list: &[MemberStatus]) -> Box<Owned<turtle_health, turtle_member_status>> {
    let mut s = Strings::default();
    let items: Vec<turtle_member_status> = (list.iter())
        .map(|m| turtle_member_status {
            endpoint: s.keep(&m.endpoint),
            reachable: m.reachable,
            healthy: m.is_healthy(),
            round_trip_us: m.round_trip.map_or(0, |d| d.as_micros() as u64),
            member_id: m.member_id,
            leader_id: m.leader_id,
            raft_term: m.raft_term,
            raft_index: m.raft_index,
            version: s.keep(&m.version),
            db_size: m.db_size,
            alarms: s.keep(&m.alarms.join(",")),
            error: m.error.as_deref().map_or(std::ptr::null(), |e| s.keep(e)),
        })
        .collect();
    Box::new(Owned {
        view: turtle_health {
            items: items.as_ptr(),
            len: items.len(),
        },
        items,
        strings: s,
    })
}

/// Asks the cluster for its members (what `etcdctl member list` shows), the leader
/// marked. On success `*out` is a new list the caller frees with `turtle_members_free`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_finder_members(
    finder: *mut turtle_finder,
    out: *mut *mut turtle_members,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        let list = FINDERS.get(finder, "finder")?.members()?;
        *out = Box::into_raw(members_view(&list)).cast();
        Ok(())
    })
}

/// Frees a list from `turtle_finder_members`. NULL is a no-op.
///
/// # Safety
/// `list` is NULL or a list from `turtle_finder_members` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn turtle_members_free(list: *mut turtle_members) {
    if !list.is_null() {
        // SAFETY: made by Box::into_raw of an Owned, whose first field is the view.
        drop(unsafe { Box::from_raw(list.cast::<Owned<turtle_members, turtle_member>>()) });
    }
}

/// Asks every member for its status at once (what `etcdctl endpoint health` and `endpoint
/// status` show); a member silent for about a second is reported unreachable. On success
/// `*out` is a new list the caller frees with `turtle_health_free`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_finder_health(
    finder: *mut turtle_finder,
    out: *mut *mut turtle_health,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        let list = FINDERS.get(finder, "finder")?.health()?;
        *out = Box::into_raw(health_view(&list)).cast();
        Ok(())
    })
}

/// Frees a list from `turtle_finder_health`. NULL is a no-op.
///
/// # Safety
/// `list` is NULL or a list from `turtle_finder_health` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn turtle_health_free(list: *mut turtle_health) {
    if !list.is_null() {
        // SAFETY: made by Box::into_raw of an Owned, whose first field is the view.
        drop(unsafe { Box::from_raw(list.cast::<Owned<turtle_health, turtle_member_status>>()) });
    }
}
