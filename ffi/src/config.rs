//! `turtle_config`: settings for `turtle_finder_new_with_config`.

use std::ffi::c_char;
use std::time::Duration;

use ::turtle_finder::{Config, Consistency};
use parking_lot::Mutex;

use crate::boundary::{arg_out, arg_str, guard};
use crate::handles::Table;
use crate::status::{turtle_status, FfiError};

/// Settings of a finder under construction. Owned by the caller; free with
/// `turtle_config_free`. Safe to use from any thread (calls are serialized).
pub struct turtle_config {
    _private: [u8; 0],
}

/// Reads go through the leader (the default).
pub const TURTLE_LINEARIZABLE: u32 = 0;
/// Reads are served by the member asked: faster, possibly stale, work without a leader.
pub const TURTLE_SERIALIZABLE: u32 = 1;

#[derive(Default)]
pub(crate) struct ConfigState {
    endpoints: Option<String>,
    prefix: Option<String>,
    deadline: Option<Duration>,
    serializable: bool,
}

pub(crate) static CONFIGS: Table<Mutex<ConfigState>> = Table::new(1, "turtle_config");

impl ConfigState {
    pub(crate) fn build(&self) -> Result<Config, FfiError> {
        let mut cfg = match &self.endpoints {
            Some(e) => Config::new([e.as_str()])?,
            None => Config::from_env()?,
        };
        if let Some(p) = &self.prefix {
            cfg = cfg.with_prefix(p.clone())?;
        }
        if let Some(d) = self.deadline {
            cfg = cfg.with_deadline(d);
        }
        if self.serializable {
            cfg = cfg.with_consistency(Consistency::Serializable);
        }
        Ok(cfg)
    }
}

/// Makes a config with the defaults: endpoints from `TURTLE_ENDPOINTS` (or
/// 127.0.0.1:2379), prefix "/services/", deadline 5000 ms, linearizable reads.
/// `*out` is written only on success.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_new(out: *mut *mut turtle_config) -> turtle_status {
    guard(|| {
        // SAFETY: caller contract.
        let out = unsafe { arg_out(out, "out") }?;
        *out = CONFIGS.insert(Mutex::new(ConfigState::default()));
        Ok(())
    })
}

/// Frees a config. NULL is a no-op; a freed handle gives TURTLE_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn turtle_config_free(config: *mut turtle_config) -> turtle_status {
    guard(|| {
        if !config.is_null() {
            CONFIGS.remove(config, "config")?;
        }
        Ok(())
    })
}

/// Sets the members: "host:port" or "http://host:port", comma-separated. Checked now:
/// malformed or empty gives TURTLE_INVALID_ARGUMENT and leaves the config unchanged.
///
/// # Safety
/// `endpoints` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_endpoints(
    config: *mut turtle_config,
    endpoints: *const c_char,
) -> turtle_status {
    guard(|| {
        let cfg = CONFIGS.get(config, "config")?;
        // SAFETY: caller contract.
        let e = unsafe { arg_str(endpoints, "endpoints") }?;
        ::turtle_finder::parse_endpoints(&[e])?;
        cfg.lock().endpoints = Some(e.to_string());
        Ok(())
    })
}

/// Sets the key prefix of services (default "/services/").
///
/// # Safety
/// `prefix` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn turtle_config_set_prefix(
    config: *mut turtle_config,
    prefix: *const c_char,
) -> turtle_status {
    guard(|| {
        let cfg = CONFIGS.get(config, "config")?;
        // SAFETY: caller contract.
        let p = unsafe { arg_str(prefix, "prefix") }?;
        cfg.lock().prefix = Some(p.to_string());
        Ok(())
    })
}

/// Sets the default deadline of every call, in milliseconds (at least 1).
#[no_mangle]
pub extern "C" fn turtle_config_set_deadline_ms(
    config: *mut turtle_config,
    deadline_ms: u64,
) -> turtle_status {
    guard(|| {
        let cfg = CONFIGS.get(config, "config")?;
        if deadline_ms == 0 {
            return Err(FfiError::invalid("deadline_ms must be at least 1"));
        }
        cfg.lock().deadline = Some(Duration::from_millis(deadline_ms));
        Ok(())
    })
}

/// Sets the read consistency: TURTLE_LINEARIZABLE (default) or TURTLE_SERIALIZABLE.
#[no_mangle]
pub extern "C" fn turtle_config_set_consistency(
    config: *mut turtle_config,
    consistency: u32,
) -> turtle_status {
    guard(|| {
        let cfg = CONFIGS.get(config, "config")?;
        cfg.lock().serializable = match consistency {
            TURTLE_LINEARIZABLE => false,
            TURTLE_SERIALIZABLE => true,
            other => return Err(FfiError::invalid(format!("unknown consistency {other}"))),
        };
        Ok(())
    })
}
