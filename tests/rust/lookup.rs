//! Lookups against a real 3-member cluster: values, absence, encodings, bad input.

use std::time::Duration;

use turtle_finder::{Config, Consistency, ErrorKind, ReadOptions, ServiceFinder};
use turtle_tests::Cluster;

fn finder(c: &Cluster) -> ServiceFinder {
    ServiceFinder::new(Config::new(c.endpoints()).unwrap()).unwrap()
}

#[test]
fn present_absent_unicode_and_the_seeds_value() {
    let c = Cluster::start();
    let f = finder(&c);
    assert_eq!(
        f.get_service("cdd").unwrap(),
        None,
        "absent is None, not an error"
    );

    // The seed: etcdctl set /services/cdd '[ "turtle1", "turtle2", "turtle3" ]' (v3 keyspace).
    let seed = r#"[ "turtle1", "turtle2", "turtle3" ]"#;
    c.etcdctl(&["put", "/services/cdd", seed]);
    assert_eq!(f.get_service("cdd").unwrap().as_deref(), Some(seed));

    c.put_via(1, "/services/ünï☃", "värde ☃ 🐢");
    assert_eq!(
        f.get_service("ünï☃").unwrap().as_deref(),
        Some("värde ☃ 🐢")
    );

    c.put_via(2, "/services/empty", "");
    assert_eq!(
        f.get_service("empty").unwrap().as_deref(),
        Some(""),
        "empty value is not absence"
    );

    let serializable = ReadOptions {
        consistency: Some(Consistency::Serializable),
        ..ReadOptions::default()
    };
    assert_eq!(
        f.get_service_with("cdd", serializable).unwrap().as_deref(),
        Some(seed)
    );

    // A value written by us is read back by etcdctl unchanged.
    let v = f.get_service("cdd").unwrap().unwrap();
    assert_eq!(
        c.etcdctl(&["get", "--print-value-only", "/services/cdd"])
            .trim_end(),
        v
    );
}

#[test]
fn non_utf8_values_are_an_error_or_bytes_never_mangled() {
    let c = Cluster::start();
    let f = finder(&c);
    let raw = vec![0x66, 0x6f, 0xff, 0xfe, 0x00, 0x6f];
    c.put_via(0, "/services/binary", raw.clone());
    let err = f.get_service("binary").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue, "{err}");
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    assert_eq!(
        f.get_service_bytes("binary", ReadOptions::default())
            .unwrap(),
        Some(raw)
    );
}

#[test]
fn bad_names_and_prefixes_are_invalid_arguments() {
    let c = Cluster::start();
    let f = finder(&c);
    for bad in ["", "a/b", "/", "nul\0byte"] {
        let e = f.get_service(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}: {e}");
        let e = f.watch_service(bad, |_| {}).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}: {e}");
    }
    // A custom prefix reads other keys.
    c.put_via(0, "/other/cdd", "x");
    let g = ServiceFinder::new(
        Config::new(c.endpoints())
            .unwrap()
            .with_prefix("/other/")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(g.get_service("cdd").unwrap().as_deref(), Some("x"));
}

#[test]
fn malformed_endpoints_are_rejected_up_front() {
    for bad in [
        "",
        ",",
        "localhost",
        "127.0.0.1:notaport",
        "ftp://127.0.0.1:2379",
        "127.0.0.1:2379,,",
    ] {
        let e = Config::new([bad]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}: {e}");
    }
    let e = Config::new(Vec::<String>::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn endpoints_from_a_comma_separated_string() {
    let c = Cluster::start();
    let joined = c.endpoints().join(",");
    let f = ServiceFinder::new(Config::new([joined.as_str()]).unwrap()).unwrap();
    assert_eq!(f.config().endpoints().len(), 3);
    c.put_via(0, "/services/joined", "yes");
    assert_eq!(f.get_service("joined").unwrap().as_deref(), Some("yes"));
}

#[test]
fn a_short_deadline_is_honoured_per_call() {
    let c = Cluster::start();
    let f = finder(&c);
    for i in 0..c.len() {
        c.stop(i);
    }
    let start = std::time::Instant::now();
    // Hedging asks the next member every 250 ms, so within 1 s all three were asked.
    let e = f
        .get_service_with("cdd", ReadOptions::deadline(Duration::from_secs(1)))
        .unwrap_err();
    let took = start.elapsed();
    for i in 0..c.len() {
        c.cont(i);
    }
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(took < Duration::from_secs(3), "a 1 s call took {took:?}");
    for ep in c.endpoints() {
        assert!(e.to_string().contains(&ep), "error names {ep}: {e}");
    }
}

#[test]
fn endpoints_from_turtle_endpoints() {
    let c = Cluster::start();
    c.put_via(0, "/services/env", "from-env");
    // The only test that touches the variable.
    std::env::set_var(turtle_finder::ENDPOINTS_ENV, c.endpoints().join(","));
    let f = ServiceFinder::from_env().unwrap();
    std::env::set_var(turtle_finder::ENDPOINTS_ENV, "127.0.0.1:notaport");
    let bad = Config::from_env().unwrap_err();
    std::env::remove_var(turtle_finder::ENDPOINTS_ENV);
    assert_eq!(f.config().endpoints().len(), 3);
    assert_eq!(f.get_service("env").unwrap().as_deref(), Some("from-env"));
    assert_eq!(bad.kind(), ErrorKind::InvalidArgument);
    assert!(bad.to_string().contains("TURTLE_ENDPOINTS"), "{bad}");
    let default = Config::from_env().unwrap();
    assert_eq!(
        default.endpoints()[0].to_string(),
        turtle_finder::DEFAULT_ENDPOINT
    );
}
