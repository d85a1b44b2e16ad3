//! `turtle_registration`: an instance of a service, kept registered until freed.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use ::turtle_finder::{RegisterOptions, Registration, RegistrationState};

use crate::boundary::{arg_out, arg_str, guard, optional_out};
use crate::finder::{turtle_finder, FINDERS};
use crate::handles::Table;
use crate::status::{c_string, turtle_status, FfiError};
use crate::userdata::{error_callback, turtle_error_cb, turtle_release_cb, UserData};

/// A registered instance: its key stays in etcd, bound to a lease kept alive on the
/// finder's runtime thread, until `turtle_registration_free` (or the finder's close)
/// revokes it. Owned by the caller; may be used from any thread.
pub struct turtle_registration {
    _private: [u8; 0],
}

static REGISTRATIONS: Table<Registration> = Table::new(4, "turtle_registration");

/// Where a registration stands.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum turtle_registration_state {
    /// The key is written under a lease etcd confirmed within the TTL.
    TURTLE_REGISTERED = 0,
    /// The lease was lost (etcd said it is gone, or no keepalive was answered before its
    /// time was surely up): a new one is granted and the key written again.
    TURTLE_REREGISTERING = 1,
    /// Writing it again failed: watchers probably see the instance gone; it is tried
    /// again, backing off up to about the TTL, until a member answers.
    TURTLE_LOST = 2,
    /// Closed: the lease was revoked.
    TURTLE_REGISTRATION_CLOSED = 3,
}

fn state_of(s: RegistrationState) -> turtle_registration_state {
    use turtle_registration_state::*;
    match s {
        RegistrationState::Registered => TURTLE_REGISTERED,
        RegistrationState::Reregistering => TURTLE_REREGISTERING,
        RegistrationState::Lost => TURTLE_LOST,
        RegistrationState::Closed => TURTLE_REGISTRATION_CLOSED,
    }
}

/// Called on the finder's dispatcher thread when the registration's state changes.
pub type turtle_state_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, state: turtle_registration_state)>;

/// The options of a registration from C arguments: a NULL `metadata_json` is null, a NULL
/// `instance_id` is the address.
///
/// # Safety
/// Both are NULL or NUL-terminated strings.
unsafe fn register_options(
    ttl_s: u64,
    metadata_json: *const c_char,
    instance_id: *const c_char,
) -> Result<RegisterOptions, FfiError> {
    let metadata = match metadata_json.is_null() {
        true => serde_json::Value::Null,
        // SAFETY: caller contract.
        false => serde_json::from_str(unsafe { arg_str(metadata_json, "metadata_json") }?)
            .map_err(|e| {
                FfiError::invalid(format!("argument `metadata_json` is not JSON ({e})"))
            })?,
    };
    let instance_id = match instance_id.is_null() {
        true => None,
        // SAFETY: caller contract.
        false => Some(unsafe { arg_str(instance_id, "instance_id") }?.to_string()),
    };
    Ok(RegisterOptions {
        // 0 is the core's default.
        ttl: match ttl_s {
            0 => ::turtle_finder::DEFAULT_TTL,
            s => Duration::from_secs(s),
        },
        metadata,
        instance_id,
        ..RegisterOptions::default()
    })
}

/// Registers an instance of service `name` at `addr`: the key
/// `<prefix><name>/<instance_id>` holding `{"Addr": addr, "Metadata": <metadata_json>}`
/// (etcd's Go endpoints format), bound to a lease of `ttl_s` seconds (1 to a year; 0
/// means 10) kept alive every third of it; a lost lease is granted and written again.
/// `metadata_json` and `instance_id` may be NULL (null metadata; the address). `on_state`
/// and `on_error` (both may be NULL) run on the dispatcher thread; `release` is called
/// exactly once (see `turtle_release_cb`). `*out` is written only on success.
///
/// # Safety
/// The strings are NULL or NUL-terminated; `out` is NULL or writable; the callbacks may
/// be called with `user_data` from the dispatcher thread until `release` is called.
#[no_mangle]
pub unsafe extern "C" fn turtle_register(
    finder: *mut turtle_finder,
    name: *const c_char,
    addr: *const c_char,
    ttl_s: u64,
    metadata_json: *const c_char,
    instance_id: *const c_char,
    on_state: turtle_state_cb,
    on_error: turtle_error_cb,
    user_data: *mut c_void,
    release: turtle_release_cb,
    out: *mut *mut turtle_registration,
) -> turtle_status {
    // Owned from here on, so every early return releases it.
    let data = Arc::new(UserData {
        ptr: user_data,
        release,
    });
    guard(move || {
        let f = FINDERS.get(finder, "finder")?;
        // SAFETY: caller contract.
        let (name, addr, out) = unsafe {
            (
                arg_str(name, "name")?,
                arg_str(addr, "addr")?,
                arg_out(out, "out")?,
            )
        };
        // SAFETY: caller contract.
        let opts = unsafe { register_options(ttl_s, metadata_json, instance_id) }?
            .on_error(error_callback(on_error, data.clone()))
            .on_state(move |s: RegistrationState| {
                if let Some(cb) = on_state {
                    // SAFETY: the caller's callback with its own user_data.
                    unsafe { cb(data.ptr, state_of(s)) };
                }
            });
        *out = REGISTRATIONS.insert(f.register(name, addr, opts)?);
        Ok(())
    })
}

/// The registration's state now. Thread-safe.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_registration_get_state(
    registration: *mut turtle_registration,
    out: *mut turtle_registration_state,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        *out = state_of(REGISTRATIONS.get(registration, "registration")?.state());
        Ok(())
    })
}

/// The key the registration wrote, as a new string the caller frees with
/// `turtle_string_free`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_registration_key(
    registration: *mut turtle_registration,
    out: *mut *mut c_char,
) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        let key = REGISTRATIONS
            .get(registration, "registration")?
            .key()
            .to_string();
        *out = c_string(&key).into_raw();
        Ok(())
    })
}

/// The id of the lease the key is bound to now (another after a re-registration) and the
/// TTL etcd granted, in seconds (it raises one below its minimum). Each out-parameter may be
/// NULL when not wanted. Thread-safe.
///
/// # Safety
/// `lease_id` and `ttl_s` are each NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_registration_lease(
    registration: *mut turtle_registration,
    lease_id: *mut i64,
    ttl_s: *mut u64,
) -> turtle_status {
    guard(|| {
        let reg = REGISTRATIONS.get(registration, "registration")?;
        // SAFETY: caller contract: each NULL or writable.
        unsafe {
            optional_out(lease_id, reg.lease_id());
            optional_out(ttl_s, reg.ttl().as_secs());
        }
        Ok(())
    })
}

/// Revokes the lease (watchers see the instance go at once) and frees the handle; waits
/// for etcd's answer, about twice the finder's deadline at most (the lease then expires
/// after its TTL). NULL is a no-op; a freed handle gives TURTLE_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn turtle_registration_free(
    registration: *mut turtle_registration,
) -> turtle_status {
    guard(|| REGISTRATIONS.free(registration, "registration", |r| r.close()))
}
