//! `turtle_instances`: the registered instances of a service, by lookup and by watch.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use ::turtle_finder::{Instances, ReadOptions, ServiceFinder, WatchOptions};

use crate::boundary::{arg_out, arg_str, guard};
use crate::finder::{deadline_of, turtle_finder, FINDERS};
use crate::status::turtle_status;
use crate::userdata::{error_callback, turtle_error_cb, turtle_release_cb, UserData};
use crate::views::Strings;
use crate::watch::{kind_of, make_watch, turtle_change_kind, turtle_watch};

/// One registered instance. Its strings live as long as the list that holds it.
#[repr(C)]
pub struct turtle_instance {
    /// The instance id: the key after `<prefix><name>/` (by default the address).
    pub id: *const c_char,
    /// The address clients connect to.
    pub addr: *const c_char,
    /// The metadata as JSON text ("null" when none).
    pub metadata_json: *const c_char,
    /// The etcd revision at which the entry was last written.
    pub revision: i64,
}

/// An entry under the service's key that is not an instance (skipped).
#[repr(C)]
pub struct turtle_malformed {
    /// The entry's key.
    pub key: *const c_char,
    /// Why it was skipped, e.g. "no \"Addr\"".
    pub reason: *const c_char,
}

/// The instances of a service at one revision, ordered by id. From
/// `turtle_get_instances` it is the caller's, freed with `turtle_instances_free`; in a
/// callback it is valid only during the call.
#[repr(C)]
pub struct turtle_instances {
    /// The instances.
    pub items: *const turtle_instance,
    /// How many `items` there are.
    pub len: usize,
    /// Entries that are not instances: never a silently shorter list.
    pub malformed: *const turtle_malformed,
    /// How many `malformed` there are.
    pub malformed_len: usize,
    /// The revision the list is as of.
    pub revision: i64,
    /// Why it was delivered: initial, reset, or put/delete of the last change.
    pub kind: turtle_change_kind,
}

/// The C view of a list and the memory it points into (the view comes first, so a
/// pointer to one is a pointer to the other).
#[repr(C)]
struct Owned {
    view: turtle_instances,
    items: Vec<turtle_instance>,
    malformed: Vec<turtle_malformed>,
    strings: Vec<CString>,
}

/// Builds the C view of `list`.
fn owned(list: &Instances) -> Box<Owned> {
    let mut strings = Strings::default();
    let mut keep = |s: &str| strings.keep(s);
    let items: Vec<turtle_instance> = (list.instances.iter())
        .map(|i| turtle_instance {
            id: keep(&i.id),
            addr: keep(&i.addr),
            metadata_json: keep(&i.metadata.to_string()),
            revision: i.revision,
        })
        .collect();
    let malformed: Vec<turtle_malformed> = (list.malformed.iter())
        .map(|m| turtle_malformed {
            key: keep(&m.key),
            reason: keep(&m.reason),
        })
        .collect();
    let view = turtle_instances {
        items: items.as_ptr(),
        len: items.len(),
        malformed: malformed.as_ptr(),
        malformed_len: malformed.len(),
        revision: list.revision,
        kind: kind_of(list.kind),
    };
    Box::new(Owned {
        view,
        items,
        malformed,
        strings: strings.strings,
    })
}

/// Looks up the instances of service `name` (the entries under `<prefix><name>/`).
/// On success `*out` is a new list the caller frees with `turtle_instances_free`.
/// `deadline_ms` 0 means the finder's default.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_get_instances(
    finder: *mut turtle_finder,
    name: *const c_char,
    deadline_ms: u64,
    out: *mut *mut turtle_instances,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        // SAFETY: caller contract.
        let name = unsafe { arg_str(name, "name") }?;
        let f = FINDERS.get(finder, "finder")?;
        let opts = ReadOptions {
            deadline: deadline_of(deadline_ms),
            ..ReadOptions::default()
        };
        let list = f.instances_with(name, opts)?;
        *out = Box::into_raw(owned(&list)).cast();
        Ok(())
    })
}

/// Frees a list from `turtle_get_instances`. NULL is a no-op.
///
/// # Safety
/// `list` is NULL or a list from `turtle_get_instances` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn turtle_instances_free(list: *mut turtle_instances) {
    if !list.is_null() {
        // SAFETY: made by Box::into_raw of an Owned, whose first field is the view.
        drop(unsafe { Box::from_raw(list.cast::<Owned>()) });
    }
}

/// Called on the finder's dispatcher thread with the full list after each change; never
/// two callbacks of one finder at once. `list` is valid only during the call.
pub type turtle_instances_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, list: *const turtle_instances)>;

/// Watches the instances of service `name`: `on_change` gets the full list, the current
/// one first when `flags` has TURTLE_WATCH_INITIAL, then after every change. The rest is
/// as `turtle_watch_service`: the handle is a `turtle_watch`, `release` is called exactly
/// once in every case.
///
/// # Safety
/// As `turtle_watch_service`.
#[no_mangle]
pub unsafe extern "C" fn turtle_watch_instances(
    finder: *mut turtle_finder,
    name: *const c_char,
    flags: u32,
    on_change: turtle_instances_cb,
    on_error: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_watch,
) -> turtle_status {
    // Owned from here on, so every early return releases it.
    let data = Arc::new(UserData {
        ptr: user_data,
        release,
    });
    let start =
        |f: &ServiceFinder,
         name: &str,
         opts: WatchOptions,
         on_change: unsafe extern "C" fn(*mut c_void, *const turtle_instances)| {
            let opts = opts.on_error(error_callback(on_error, data.clone()));
            let each = move |list: &Instances| {
                let view = owned(list);
                // SAFETY: the caller's callback with its own user_data; `view` outlives the call.
                unsafe { on_change(data.ptr, &view.view) };
            };
            f.watch_instances_with(name, opts, each)
        };
    // SAFETY: caller contract.
    guard(move || unsafe { make_watch(finder, name, flags, on_change, out, start) })
}
