//! What the C views of lists (instances, members, health) point into: strings and
//! arrays of strings that live as long as the list.

use std::ffi::{c_char, CString};

use crate::status::c_string;

/// Keeps the strings a view points into.
#[derive(Default)]
pub(crate) struct Strings {
    pub(crate) arrays: Vec<Vec<*const c_char>>,
    pub(crate) strings: Vec<CString>,
}

impl Strings {
    /// Keeps a copy of `s` (a NUL in it shown as `\0`); its pointer.
    pub(crate) fn keep(&mut self, s: &str) -> *const c_char {
        let c = c_string(s);
        let p = c.as_ptr();
        self.strings.push(c); // the heap buffer does not move with the CString
        p
    }

    /// Keeps every string of `list`, and the array of their pointers: (array, length).
    pub(crate) fn keep_all(&mut self, list: &[String]) -> (*const *const c_char, usize) {
        let ptrs: Vec<*const c_char> = list.iter().map(|s| self.keep(s)).collect();
        let p = ptrs.as_ptr();
        self.arrays.push(ptrs); // nor does the Vec's buffer move with the Vec
        (p, list.len())
    }
}
