//! The key layout: service `name` is the key `<prefix><name>`, its instances the keys under
//! `<prefix><name>/`; and the rules names and prefixes follow.

use crate::error::{Error, Result};

/// The longest service name and key prefix accepted, in bytes. etcd refuses requests over
/// its `--max-request-bytes` (1.5 MiB by default) and ends a whole watch stream over one
/// oversized watch, so names are held far below that, at a size no service name needs.
pub const MAX_NAME_BYTES: usize = 1024;

/// A service name is one path segment: not empty, no `/`, no NUL, at most
/// [`MAX_NAME_BYTES`].
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("service name is empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(format!(
            "service name is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            name.len()
        )));
    }
    if name.contains('/') {
        return Err(Error::invalid(format!(
            "service name {name:?} contains '/'"
        )));
    }
    if name.contains('\0') {
        return Err(Error::invalid(format!(
            "service name {name:?} contains a NUL byte"
        )));
    }
    Ok(())
}

/// A key prefix: empty, or ending with `/` (else `services` + `cdd` would read
/// `servicescdd`); no NUL; at most [`MAX_NAME_BYTES`].
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.contains('\0') {
        return Err(Error::invalid("prefix contains a NUL byte"));
    }
    if prefix.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(format!(
            "prefix is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            prefix.len()
        )));
    }
    if !prefix.is_empty() && !prefix.ends_with('/') {
        return Err(Error::invalid(format!(
            "prefix {prefix:?} must end with '/' (did you mean {:?}?)",
            format!("{prefix}/")
        )));
    }
    Ok(())
}

/// The key of service `name`, after checking the name.
pub(crate) fn service_key(prefix: &str, name: &str) -> Result<String> {
    check_name(name)?;
    Ok(format!("{prefix}{name}"))
}

/// What a watch watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The key `<prefix><name>`.
    Service,
    /// The keys under `<prefix><name>/`: its registered instances.
    Instances,
    /// The keys under `<name>/` (no prefix: etcd's tools' names): an election's
    /// candidates.
    Election,
}

/// Checks a lock or election name: the key prefix of etcd's tools, so not empty.
pub(crate) fn check_lock_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("a lock name must not be empty".to_string()));
    }
    if name.contains('\0') {
        return Err(Error::invalid(format!("lock name {name:?} contains NUL")));
    }
    Ok(())
}

/// The key, and for instances the end of the range, that `target` of `name` covers.
pub(crate) fn range_of(
    prefix: &str,
    name: &str,
    target: Target,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    if target == Target::Election {
        check_lock_name(name)?;
        let key = format!("{name}/").into_bytes();
        let end = prefix_end(&key);
        return Ok((key, Some(end)));
    }
    let key = service_key(prefix, name)?;
    Ok(match target {
        Target::Service => (key.into_bytes(), None),
        Target::Instances | Target::Election => {
            let key = format!("{key}/").into_bytes();
            let end = prefix_end(&key);
            (key, Some(end))
        }
    })
}

/// The end of the range of keys starting with `prefix` (etcd's `GetPrefixRangeEnd`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // every key from the prefix on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_a_key_or_the_keys_under_it() {
        assert_eq!(prefix_end(b"/s/a/"), b"/s/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), [0]);
        let (key, end) = range_of("/s/", "cdd", Target::Instances).unwrap();
        assert_eq!(
            (key.as_slice(), end.as_deref()),
            (&b"/s/cdd/"[..], Some(&b"/s/cdd0"[..]))
        );
        assert_eq!(
            range_of("", "cdd", Target::Service).unwrap(),
            (b"cdd".to_vec(), None)
        );
        assert!(range_of("/s/", "a/b", Target::Service).is_err());
    }
}
