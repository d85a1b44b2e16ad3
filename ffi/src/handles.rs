//! Generational handle tables: C gets an opaque number that looks like a pointer, never
//! a real one, so a freed or doubly freed handle is detected instead of undefined.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::status::{turtle_status, FfiError};

struct Slot<T> {
    generation: u32,
    value: Option<Arc<T>>,
}

/// Handles of one kind. A handle encodes `generation << 32 | kind << 24 | (index + 1)`.
pub(crate) struct Table<T> {
    kind: u8,
    name: &'static str,
    slots: Mutex<(Vec<Slot<T>>, Vec<u32>)>,
}

impl<T> Table<T> {
    pub(crate) const fn new(kind: u8, name: &'static str) -> Table<T> {
        Table {
            kind,
            name,
            slots: Mutex::new((Vec::new(), Vec::new())),
        }
    }

    pub(crate) fn insert<H>(&self, value: T) -> *mut H {
        let mut guard = self.slots.lock();
        let (slots, free) = &mut *guard;
        let index = match free.pop() {
            Some(i) => i,
            None => {
                slots.push(Slot {
                    generation: 1,
                    value: None,
                });
                (slots.len() - 1) as u32
            }
        };
        assert!(
            index < (1 << 24),
            "more than 16 million live {} handles",
            self.name
        );
        let slot = &mut slots[index as usize];
        slot.value = Some(Arc::new(value));
        let raw =
            ((slot.generation as u64) << 32) | ((self.kind as u64) << 24) | (index as u64 + 1);
        raw as usize as *mut H
    }

    fn locate(&self, handle: usize, arg: &str) -> Result<usize, FfiError> {
        if handle == 0 {
            return Err(FfiError::invalid(format!("argument `{arg}` is NULL")));
        }
        let raw = handle as u64;
        if (raw >> 24) & 0xff != self.kind as u64 || raw & 0xff_ffff == 0 {
            return Err(self.stale(arg));
        }
        Ok(((raw & 0xff_ffff) - 1) as usize)
    }

    fn stale(&self, arg: &str) -> FfiError {
        FfiError::new(
            turtle_status::TURTLE_INVALID_HANDLE,
            format!(
                "`{arg}` is not a live {} handle (freed already, or another kind)",
                self.name
            ),
        )
    }

    /// The value behind a live handle.
    pub(crate) fn get<H>(&self, handle: *const H, arg: &str) -> Result<Arc<T>, FfiError> {
        let index = self.locate(handle as usize, arg)?;
        let generation = ((handle as usize as u64) >> 32) as u32;
        match self.slots.lock().0.get(index) {
            Some(Slot {
                generation: g,
                value: Some(v),
            }) if *g == generation => Ok(v.clone()),
            _ => Err(self.stale(arg)),
        }
    }

    /// A `*_free` function's body: NULL is a no-op, a live handle is removed and `end`
    /// gets its value (to close or cancel it), a stale one is an error.
    pub(crate) fn free<H>(
        &self,
        handle: *mut H,
        arg: &str,
        end: impl FnOnce(Arc<T>),
    ) -> Result<(), FfiError> {
        if !handle.is_null() {
            end(self.remove(handle, arg)?);
        }
        Ok(())
    }

    /// Ends a handle; its slot is reused under a new generation.
    pub(crate) fn remove<H>(&self, handle: *mut H, arg: &str) -> Result<Arc<T>, FfiError> {
        let index = self.locate(handle as usize, arg)?;
        let generation = ((handle as usize as u64) >> 32) as u32;
        let mut guard = self.slots.lock();
        let (slots, free) = &mut *guard;
        match slots.get_mut(index) {
            Some(slot) if slot.generation == generation && slot.value.is_some() => {
                let value = slot.value.take().expect("checked");
                slot.generation = slot.generation.wrapping_add(1).max(1);
                free.push(index as u32);
                Ok(value)
            }
            _ => Err(self.stale(arg)),
        }
    }
}
