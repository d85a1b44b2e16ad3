//! libturtle: the C ABI of turtle-finder. Only translation lives here: handles, status
//! codes, strings and callbacks; every behaviour is the core crate's.
//!
//! Conventions: every function returns a `turtle_status` (results through
//! out-parameters, written only on success); `turtle_last_error()` has the message of the
//! calling thread's last call ("" after a success); handles are opaque, checked (a freed handle gives
//! TURTLE_INVALID_HANDLE), and freed with their own `*_free`; no panic crosses into C.
#![allow(non_camel_case_types)]

// A handle is a 64-bit number (generation, kind, index) passed as a pointer.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("libturtle's handles need 64-bit pointers; 32-bit targets are not supported");

mod boundary;
mod config;
mod election;
mod finder;
mod handles;
mod instances;
mod lock;
mod monitoring;
mod registration;
mod session;
mod status;
mod txn;
mod userdata;
mod views;
mod watch;

pub use config::*;
pub use election::*;
pub use finder::*;
pub use instances::*;
pub use lock::*;
pub use monitoring::*;
pub use registration::*;
pub use session::*;
pub use status::*;
pub use txn::*;
pub use userdata::{turtle_error_cb, turtle_release_cb};
pub use watch::*;

use std::ffi::c_char;

/// The library's version, e.g. "0.1.0" (the same as the TURTLE_VERSION macro of the
/// header it was built with). Static; do not free.
#[no_mangle]
pub extern "C" fn turtle_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
