//! Production clusters (issue 10): TLS with client certificates and the certificates a
//! client must refuse, auth with token renewal, members found by DNS SRV (a real dnsmasq
//! on loopback), and auto-sync across a member added and one removed.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use turtle_finder::{
    Config, ErrorKind, ReadOptions, RegisterOptions, RegistrationState, ServiceFinder,
};
use turtle_tests::{Certs, Cluster, ClusterOptions, FakeTlsMember, Mode, Proxy};

const WAIT: Duration = Duration::from_secs(20);

fn tls_cluster(certs: &Arc<Certs>, client_cert_auth: bool) -> Cluster {
    Cluster::start_with(ClusterOptions {
        tls: Some(certs.clone()),
        client_cert_auth,
        ..Default::default()
    })
}

fn tls_config(c: &Cluster, certs: &Certs) -> Config {
    Config::new(c.endpoints())
        .unwrap()
        .with_ca_file(&certs.ca)
        .with_client_cert(&certs.client.cert, &certs.client.key)
}

#[test]
fn a_tls_cluster_with_client_certificates_serves_lookups_watches_and_failover() {
    let certs = Arc::new(Certs::new());
    let mut c = tls_cluster(&certs, true);
    c.put_via(0, "/services/cdd", "secure");
    let f = ServiceFinder::new(tls_config(&c, &certs)).unwrap();
    assert_eq!(f.get_service("cdd").unwrap().as_deref(), Some("secure"));
    let (tx, rx) = unbounded();
    let _w = f
        .watch_service("cdd", move |ch| tx.send(ch.revision).unwrap())
        .unwrap();
    let serving = f.preferred_member().to_string();
    let victim = c.index_of(&serving).unwrap();
    c.kill(victim);
    for _ in 0..100 {
        assert_eq!(f.get_service("cdd").unwrap().as_deref(), Some("secure"));
    }
    let rev = c.put_via((victim + 1) % 3, "/services/cdd", "still secure");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), rev);
}

/// A lookup that must fail with `kind` within its deadline, saying `why`.
fn refused(cfg: Config, kind: ErrorKind, why: &str) {
    let f = ServiceFinder::new(cfg).unwrap();
    let t = Instant::now();
    let e = f
        .get_service_with("cdd", ReadOptions::deadline(Duration::from_secs(2)))
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "{why}: within the deadline"
    );
    assert_eq!(e.kind(), kind, "{why}: {e}");
    let text = e.to_string().to_lowercase();
    assert!(
        text.contains("certificate") || text.contains("handshake"),
        "{why}: {e}"
    );
}

/// A certificate manager rotates the client certificate in place: the finder reads the
/// files again at its next handshake, so the member that refused the old (expired)
/// certificate serves lookups as soon as the new one is written, with no new finder
/// (issue 19, item 8).
#[test]
fn a_client_certificate_rotated_in_place_is_read_again_at_the_next_handshake() {
    let certs = Arc::new(Certs::new());
    let c = tls_cluster(&certs, true);
    c.put_via(0, "/services/rotated", "v");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("client.crt"), dir.path().join("client.key"));
    // Written as a manager does: a new file renamed over the old one.
    let install = |from: &std::path::Path, to: &std::path::Path| {
        let next = to.with_extension("next");
        std::fs::copy(from, &next).unwrap();
        std::fs::rename(&next, to).unwrap();
    };
    install(&certs.expired.cert, &cert);
    install(&certs.expired.key, &key);
    let cfg = Config::new(c.endpoints())
        .unwrap()
        .with_ca_file(&certs.ca)
        .with_client_cert(&cert, &key);
    let f = ServiceFinder::new(cfg).unwrap();
    let quick = ReadOptions::deadline(Duration::from_secs(1));
    let e = f.get_service_with("rotated", quick.clone()).unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Unavailable,
        "the expired certificate: {e}"
    );

    install(&certs.client.key, &key);
    install(&certs.client.cert, &cert);
    let end = Instant::now() + WAIT;
    loop {
        match f.get_service_with("rotated", quick.clone()) {
            Ok(v) => break assert_eq!(v.as_deref(), Some("v")),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}"),
        }
        // Each failed lookup is one more handshake; no event says the files were read.
        assert!(
            Instant::now() < end,
            "the rotated certificate was never used"
        );
    }
}

#[test]
fn certificates_to_refuse_give_clear_errors_never_plaintext() {
    let certs = Arc::new(Certs::new());
    let c = tls_cluster(&certs, true);
    let good = || tls_config(&c, &certs);
    refused(
        good().with_ca_file(&certs.wrong_ca),
        ErrorKind::Unavailable,
        "another CA",
    );
    refused(
        good().with_server_name("other.example"),
        ErrorKind::Unavailable,
        "another host name",
    );
    let other = FakeTlsMember::start(&certs.other_host).unwrap();
    let at = |e: &FakeTlsMember| Config::new([e.endpoint()]).unwrap().with_ca_file(&certs.ca);
    refused(
        at(&other),
        ErrorKind::Unavailable,
        "a certificate for another host",
    );
    let expired = FakeTlsMember::start(&certs.expired).unwrap();
    refused(
        at(&expired),
        ErrorKind::Unavailable,
        "an expired certificate",
    );
    let anonymous = Config::new(c.endpoints()).unwrap().with_ca_file(&certs.ca);
    let f = ServiceFinder::new(anonymous).unwrap();
    let e = f
        .get_service_with("cdd", ReadOptions::deadline(Duration::from_secs(2)))
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Unavailable,
        "no client certificate: {e}"
    );
    // TLS settings with a plain endpoint are a mistake, not a fallback.
    let plain = Config::new(["127.0.0.1:2379"])
        .unwrap()
        .with_ca_file(&certs.ca);
    let e = ServiceFinder::new(plain).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // A file that is not there is named at once.
    let missing = good().with_ca_file("/nonexistent/ca.pem");
    let e = ServiceFinder::new(missing).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}

fn auth_cluster(extra: &[&str]) -> Cluster {
    let mut c = Cluster::start_with(ClusterOptions {
        extra_args: extra.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    });
    c.enable_auth("rootpw");
    c.add_reader("reader", "readerpw", "/services/");
    c
}

fn reader(c: &Cluster, password: &str) -> ServiceFinder {
    let cfg = Config::new(c.endpoints())
        .unwrap()
        .with_auth("reader", password)
        .unwrap();
    ServiceFinder::new(cfg).unwrap()
}

#[test]
fn auth_right_and_wrong_passwords_and_keys_one_may_not_read() {
    let c = auth_cluster(&[]);
    c.put_via(0, "/services/cdd", "for readers");
    c.put_via(0, "/other/secret", "not for readers");
    let f = reader(&c, "readerpw");
    assert_eq!(
        f.get_service("cdd").unwrap().as_deref(),
        Some("for readers")
    );
    let (tx, rx) = unbounded();
    let _w = f
        .watch_service("cdd", move |ch| tx.send(ch.revision).unwrap())
        .unwrap();
    let rev = c.put_via(1, "/services/cdd", "changed");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), rev);

    let wrong = reader(&c, "not the password");
    let t = Instant::now();
    let e = wrong.get_service("cdd").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(
        e.to_string().contains("authentication failed"),
        "etcd's words: {e}"
    );
    assert!(!e.to_string().contains("not the password"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "no retry loop");

    let cfg = Config::new(c.endpoints())
        .unwrap()
        .with_auth("reader", "readerpw")
        .unwrap();
    let elsewhere = ServiceFinder::new(cfg.clone().with_prefix("/other/").unwrap()).unwrap();
    let e = elsewhere.get_service("secret").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(
        e.to_string().contains("/other/secret"),
        "names the key: {e}"
    );
    assert!(
        !format!("{cfg:?}").contains("readerpw"),
        "the password is never shown"
    );
}

#[test]
fn expiring_tokens_are_renewed_without_the_caller_noticing() {
    let c = auth_cluster(&["--auth-token-ttl", "2"]);
    c.put_via(0, "/services/ttl", "v0");
    let f = Arc::new(reader(&c, "readerpw"));
    let (tx, rx) = unbounded();
    let _w = f
        .watch_service("ttl", move |ch| tx.send(ch.revision).unwrap())
        .unwrap();
    let (stop, errors) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let looper = {
        let (f, stop, errors) = (f.clone(), stop.clone(), errors.clone());
        std::thread::spawn(move || {
            let mut lookups = 0;
            while !stop.load(Ordering::SeqCst) {
                if f.get_service("ttl").is_err() {
                    errors.fetch_add(1, Ordering::SeqCst);
                }
                lookups += 1;
                // Idle longer than the token's 2 s TTL every few lookups: it expires.
                let pause = if lookups % 20 == 0 { 2500 } else { 20 };
                std::thread::sleep(Duration::from_millis(pause));
            }
            lookups
        })
    };
    let mut written = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        written.push(c.put_via(0, "/services/ttl", format!("v{}", written.len() + 1)));
        std::thread::sleep(Duration::from_millis(300)); // writes spread over 10 s
    }
    stop.store(true, Ordering::SeqCst);
    let lookups = looper.join().unwrap();
    let seen: Vec<i64> = written
        .iter()
        .map(|_| rx.recv_timeout(WAIT).unwrap())
        .collect();
    assert_eq!(seen, written, "every change, in order");
    assert_eq!(errors.load(Ordering::SeqCst), 0, "of {lookups} lookups");
    // A watch added once the stream's token expired unused: etcd 3.4 drops its create
    // silently; the finder sees it unanswered and reopens the stream with a fresh token.
    std::thread::sleep(Duration::from_millis(2500)); // the token expires unused
    let (tx2, rx2) = unbounded();
    let _w2 = f
        .watch_service_with(
            "ttl2",
            turtle_finder::WatchOptions::default()
                .on_error(|e: &turtle_finder::Error| panic!("the watch reported {e}")),
            move |ch: &turtle_finder::Change| tx2.send(ch.revision).unwrap(),
        )
        .unwrap();
    let r1 = c.put_via(0, "/services/ttl", "after");
    let r2 = c.put_via(0, "/services/ttl2", "new");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), r1);
    assert_eq!(rx2.recv_timeout(WAIT).unwrap(), r2);
}

/// A registration of `name` at `addr` by a user that may write `/services/`, with its
/// state changes and errors on channels; the finder that holds it.
fn writer_registration(
    c: &Cluster,
    name: &str,
    addr: &str,
    ttl: u64,
) -> (
    ServiceFinder,
    turtle_finder::Registration,
    Receiver<RegistrationState>,
    Receiver<turtle_finder::Error>,
) {
    c.add_user("writer", "writerpw", "readwrite", "/services/");
    let cfg = Config::new(c.endpoints()).unwrap();
    let f = ServiceFinder::new(cfg.with_auth("writer", "writerpw").unwrap()).unwrap();
    let ((to_states, states), (to_errors, errors)) = (unbounded(), unbounded());
    let opts = RegisterOptions {
        ttl: Duration::from_secs(ttl),
        ..Default::default()
    }
    .on_state(move |s| to_states.send(s).unwrap())
    .on_error(move |e| to_errors.send(e.clone()).unwrap());
    let reg = f.register(name, addr, opts).unwrap();
    (f, reg, states, errors)
}

#[test]
fn a_registration_outlives_expiring_tokens_and_a_lost_lease() {
    let c = auth_cluster(&["--auth-token-ttl", "2"]);
    let (_f, reg, states, errors) = writer_registration(&c, "authed", "10.1.0.1:80", 3);
    // Keepalives run on; the token expires between the writes that need it.
    std::thread::sleep(Duration::from_millis(2500)); // the token expires unused
    let old = reg.lease_id();
    c.etcdctl(&["lease", "revoke", &format!("{old:x}")]);
    let next = || states.recv_timeout(WAIT).unwrap();
    assert_eq!(next(), RegistrationState::Reregistering);
    assert_eq!(next(), RegistrationState::Registered);
    assert_ne!(reg.lease_id(), old);
    let stored = c.etcdctl(&["get", "--print-value-only", reg.key()]);
    assert!(stored.contains("10.1.0.1:80"), "{stored}");
    std::thread::sleep(Duration::from_millis(2500)); // and again before the revoke
    reg.close();
    assert!(
        c.etcdctl(&["get", reg.key()]).is_empty(),
        "revoked on close"
    );
    assert_eq!(next(), RegistrationState::Closed);
    let errors: Vec<String> = errors.try_iter().map(|e| e.to_string()).collect();
    assert_eq!(errors, Vec::<String>::new());
}

/// A registration that lost its lease while etcd refuses its put for good (its role lost
/// write permission) backs off instead of spinning (issue 19, item 2: 256 grants a second,
/// 1,634 leases alive), revokes the lease each refused put leaves, and says `lost` with
/// the reason; it comes back once the permission does.
#[test]
fn a_registration_refused_for_good_backs_off_and_leaves_no_leases() {
    let c = auth_cluster(&[]);
    let (_f, reg, states, errors) = writer_registration(&c, "spin", "10.1.0.2:80", 5);
    let role = "writer-readwrite";
    c.etcdctl(&[
        "role",
        "revoke-permission",
        role,
        "/services/",
        "--prefix=true",
    ]);
    c.etcdctl(&[
        "role",
        "grant-permission",
        role,
        "read",
        "--prefix=true",
        "/services/",
    ]);
    c.etcdctl(&["lease", "revoke", &format!("{:x}", reg.lease_id())]);
    while states.recv_timeout(WAIT).unwrap() != RegistrationState::Lost {}
    let e = errors.recv_timeout(WAIT).unwrap();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    // A rate, so a window: every refused try reports an error.
    let window = Instant::now() + Duration::from_secs(3);
    let mut tries = 1;
    while let Ok(e) = errors.recv_timeout(window.saturating_duration_since(Instant::now())) {
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        tries += 1;
    }
    assert!(tries <= 12, "{tries} refused tries in 3 s: not backing off");
    let leases = c.etcdctl(&["lease", "list"]);
    assert!(leases.lines().count() <= 2, "leases left: {leases}");
    assert_eq!(reg.state(), RegistrationState::Lost);
    c.etcdctl(&[
        "role",
        "grant-permission",
        role,
        "readwrite",
        "--prefix=true",
        "/services/",
    ]);
    while states.recv_timeout(WAIT).unwrap() != RegistrationState::Registered {}
    let stored = c.etcdctl(&["get", "--print-value-only", reg.key()]);
    assert!(stored.contains("10.1.0.2:80"), "{stored}");
}

/// dnsmasq on a free loopback port, serving SRV records; ended on drop.
struct Dnsmasq {
    child: Child,
    addr: String,
}

impl Dnsmasq {
    /// Serving `_etcd-client._tcp.turtle.test` records (plain http) of every member of `c`.
    fn plain_members_of(c: &Cluster) -> Dnsmasq {
        let records: Vec<String> = (0..c.len())
            .map(|i| {
                let port = c.endpoint(i).rsplit(':').next().unwrap().to_string();
                format!("_etcd-client._tcp.turtle.test,localhost,{port},0,0")
            })
            .collect();
        Dnsmasq::start(&records)
    }

    /// Started on a port free a moment ago; another process may take that port first
    /// (then dnsmasq exits, or a second dnsmasq of a test beside this one answers), so
    /// it is ready only when it answers a TXT record only this instance serves, and
    /// started again on another port when it exits.
    fn start(records: &[String]) -> Dnsmasq {
        let end = Instant::now() + WAIT;
        loop {
            let port = UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let since = std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos();
            let nonce = format!("{}-{since}", std::process::id());
            let mut child = Dnsmasq::spawn(port, records, &nonce);
            let addr = format!("127.0.0.1:{port}");
            // Ready once it answers: no event says so.
            loop {
                if Dnsmasq::answers(&addr, &nonce) {
                    return Dnsmasq { child, addr };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken: try another
                }
                assert!(Instant::now() < end, "dnsmasq never answered");
            }
            assert!(Instant::now() < end, "dnsmasq never started");
        }
    }

    fn spawn(port: u16, records: &[String], nonce: &str) -> Child {
        let bin = std::env::var("DNSMASQ_BIN").unwrap_or_else(|_| {
            match std::path::Path::new("/usr/sbin/dnsmasq").exists() {
                true => "/usr/sbin/dnsmasq".into(),
                false => "dnsmasq".into(),
            }
        });
        Command::new(bin)
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
            ])
            .args([
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--user=root",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--txt-record=ready.turtle.test,{nonce}"))
            .args(records.iter().map(|r| format!("--srv-host={r}")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run dnsmasq (Debian's dnsmasq-base; make setup installs it)")
    }

    /// Whether the server at `addr` answers `ready.turtle.test TXT` with `nonce`.
    fn answers(addr: &str, nonce: &str) -> bool {
        // Header: id, flags (recursion desired), one question; then the name, TXT, IN.
        let mut query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["ready", "turtle", "test"] {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 16, 0, 1]);
        let mut reply = [0u8; 512];
        let got = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.connect(addr).map(|_| s))
            .and_then(|s| {
                s.set_read_timeout(Some(Duration::from_millis(100)))?;
                s.send(&query)?;
                s.recv(&mut reply)
            });
        let Ok(n) = got else {
            // Refused (nothing bound yet) returns at once: pause as a timeout would.
            std::thread::sleep(Duration::from_millis(20));
            return false;
        };
        reply[..n]
            .windows(nonce.len())
            .any(|w| w == nonce.as_bytes())
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn members_found_by_dns_srv_serve_lookups_and_watches() {
    let c = Cluster::start();
    c.put_via(0, "/services/cdd", "found");
    let dns = Dnsmasq::plain_members_of(&c);
    let cfg = Config::discover("turtle.test")
        .unwrap()
        .with_name_server(&dns.addr)
        .unwrap();
    let f = ServiceFinder::new(cfg).unwrap();
    assert_eq!(f.member_health().len(), 3);
    assert_eq!(f.get_service("cdd").unwrap().as_deref(), Some("found"));
    let (tx, rx) = unbounded();
    let _w = f
        .watch_service("cdd", move |ch| tx.send(ch.revision).unwrap())
        .unwrap();
    let rev = c.put_via(1, "/services/cdd", "changed");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), rev);

    let none = Config::discover("nothing.test")
        .unwrap()
        .with_name_server(&dns.addr)
        .unwrap();
    let e = ServiceFinder::new(none).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("found no members"), "{e}");
}

#[test]
fn auto_sync_follows_a_member_added_and_the_configured_one_removed() {
    let mut c = Cluster::start();
    let cfg = Config::new([c.endpoint(0)])
        .unwrap()
        .with_auto_sync(Duration::from_millis(300));
    let f = Arc::new(ServiceFinder::new(cfg).unwrap());
    let known = |n: usize| {
        let end = Instant::now() + WAIT;
        while f.member_health().len() != n {
            assert!(
                Instant::now() < end,
                "never knew {n} members: {:?}",
                f.member_health()
            );
            std::thread::sleep(Duration::from_millis(50)); // auto-sync has no event to await
        }
    };
    f.get_service("cdd").unwrap();
    known(3);
    let (tx, rx) = unbounded();
    let _w = f
        .watch_service("synced", move |ch| tx.send(ch.revision).unwrap())
        .unwrap();
    let (stop, errors) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let looper = {
        let (f, stop, errors) = (f.clone(), stop.clone(), errors.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Err(e) = f.get_service("synced") {
                    eprintln!("lookup failed: {e}");
                    errors.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let mut written = vec![c.put_via(1, "/services/synced", "before")];
    let added = c.add_member();
    known(4);
    written.push(c.put_via(added, "/services/synced", "added"));
    c.remove_member(0);
    known(3);
    written.push(c.put_via(added, "/services/synced", "removed"));
    stop.store(true, Ordering::SeqCst);
    looper.join().unwrap();
    let seen: Vec<i64> = written
        .iter()
        .map(|_| rx.recv_timeout(WAIT).unwrap())
        .collect();
    assert_eq!(seen, written, "every change, in order");
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    assert!(f
        .member_health()
        .iter()
        .all(|m| m.endpoint != c.endpoint(0)));
}

/// Members advertising client URLs that do not work from here (behind NAT or in
/// containers; issue 19, item 3: lookups failed 13 of 13 from 2 s after start). The
/// advertised one joins unhealthy with the reason, the configured ones stay.
#[test]
fn auto_sync_keeps_working_endpoints_when_members_advertise_unreachable_ones() {
    let c = Cluster::start_with(ClusterOptions {
        extra_args: vec!["--advertise-client-urls=http://127.0.0.1:1".into()],
        ..ClusterOptions::default()
    });
    c.put_via(0, "/services/nat", "v");
    let cfg = Config::new(c.endpoints())
        .unwrap()
        .with_auto_sync(Duration::from_millis(300));
    let f = ServiceFinder::new(cfg).unwrap();
    let end = Instant::now() + WAIT;
    let advertised = loop {
        let health = f.member_health();
        if let Some(m) = health.iter().find(|m| m.endpoint == "127.0.0.1:1") {
            break m.clone();
        }
        assert!(Instant::now() < end, "never listed: {health:?}");
        std::thread::sleep(Duration::from_millis(50)); // auto-sync has no event to await
    };
    assert!(!advertised.healthy);
    let why = advertised.last_error.unwrap_or_default();
    assert!(
        why.starts_with("listed by the cluster but not answering here"),
        "{why}"
    );
    // Several syncs later, the configured endpoints still serve.
    let synced = Instant::now() + Duration::from_secs(2);
    let mut lookups = 0;
    while Instant::now() < synced {
        assert_eq!(f.get_service("nat").unwrap().as_deref(), Some("v"));
        lookups += 1;
    }
    let health = f.member_health();
    for e in c.endpoints() {
        assert!(
            health.iter().any(|m| m.endpoint == e && m.healthy),
            "{e}: {health:?}"
        );
    }
    assert!(lookups > 10, "{lookups}");
}

/// The members auto-sync learned stop answering while the configured one still would:
/// the membership task cannot list the members, so it brings the configured endpoint
/// back and lookups go on (issue 19, item 3). The member advertises a proxy, so the
/// learned endpoint can be cut without touching the member.
#[test]
fn the_configured_endpoint_comes_back_when_the_learned_ones_stop_answering() {
    let advertised = Proxy::start("127.0.0.1:1").unwrap();
    let c = Cluster::start_with(ClusterOptions {
        members: 1,
        extra_args: vec![format!(
            "--advertise-client-urls=http://{}",
            advertised.endpoint()
        )],
        ..ClusterOptions::default()
    });
    advertised.set_upstream(&c.endpoint(0));
    c.put_via(0, "/services/seed", "v");
    let cfg = Config::new([c.endpoint(0)])
        .unwrap()
        .with_auto_sync(Duration::from_millis(300));
    let f = ServiceFinder::new(cfg).unwrap();
    let only = |f: &ServiceFinder, e: &str| {
        let health = f.member_health();
        health.len() == 1 && health[0].endpoint == e
    };
    let end = Instant::now() + WAIT;
    while !only(&f, &advertised.endpoint()) {
        assert!(
            Instant::now() < end,
            "never followed: {:?}",
            f.member_health()
        );
        std::thread::sleep(Duration::from_millis(50)); // auto-sync has no event to await
    }
    assert_eq!(f.get_service("seed").unwrap().as_deref(), Some("v"));

    advertised.set(Mode::Cut);
    let end = Instant::now() + WAIT;
    loop {
        // Lookups fail (Unavailable) until the configured endpoint is back.
        let got = f.get_service("seed");
        if let Err(e) = &got {
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        }
        let health = f.member_health();
        let back = health
            .iter()
            .any(|m| m.endpoint == c.endpoint(0) && m.healthy);
        if let (true, Ok(v)) = (back, &got) {
            assert_eq!(v.as_deref(), Some("v"));
            break;
        }
        assert!(Instant::now() < end, "the seed never came back: {health:?}");
        std::thread::sleep(Duration::from_millis(50)); // the membership task has no event
    }
}

/// Credentials given to a finder of a cluster with auth off: etcd answers "authentication
/// is not enabled", and the finder goes on without a token, as etcd's Go client does
/// (issue 19, item 19: every lookup and new watch failed). When auth is turned on later,
/// the first refusal makes it authenticate.
#[test]
fn credentials_for_a_cluster_without_auth_are_not_needed() {
    let mut c = Cluster::start();
    c.put_via(0, "/services/open", "v1");
    let cfg = Config::new(c.endpoints())
        .unwrap()
        .with_auth("reader", "readerpw")
        .unwrap();
    let f = ServiceFinder::new(cfg).unwrap();
    for _ in 0..20 {
        assert_eq!(f.get_service("open").unwrap().as_deref(), Some("v1"));
    }
    let (tx, rx) = unbounded();
    let _w = f
        .watch_service("open", move |ch: &turtle_finder::Change| {
            tx.send(ch.revision).unwrap()
        })
        .unwrap();
    let r = c.put_via(1, "/services/open", "v2");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), r);
    c.enable_auth("rootpw");
    c.add_reader("reader", "readerpw", "/services/");
    assert_eq!(f.get_service("open").unwrap().as_deref(), Some("v2"));
}

/// TLS files that cannot work are an error naming the file and why, when the finder is
/// made: a CA file whose PEM body is not base64, a key that is not the certificate's, an
/// encrypted key; and a FIFO nobody writes (a CA "file") is refused at once rather than
/// read for good (issue 19, item 16: each was "transport error" or a hang).
#[test]
fn bad_tls_files_are_named_with_the_reason() {
    let certs = turtle_tests::Certs::new();
    let dir = tempfile::tempdir().unwrap();
    let not_base64 = dir.path().join("not-base64.pem");
    std::fs::write(
        &not_base64,
        "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let encrypted = dir.path().join("encrypted.key");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let fifo = dir.path().join("ca.fifo");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a plain syscall with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let base = || Config::new(["https://127.0.0.1:1"]).unwrap();
    let cases = [
        (
            base().with_ca_file(&not_base64),
            "not-base64.pem",
            "not a PEM certificate",
        ),
        (
            base()
                .with_ca_file(&certs.ca)
                .with_client_cert(&certs.client.cert, &certs.server.key),
            "server.key",
            "does not go with",
        ),
        (
            base()
                .with_ca_file(&certs.ca)
                .with_client_cert(&certs.client.cert, &encrypted),
            "encrypted.key",
            "an encrypted private key",
        ),
        (base().with_ca_file(&fifo), "ca.fifo", "not a regular file"),
    ];
    for (cfg, file, why) in cases {
        let t = Instant::now();
        let e = ServiceFinder::new(cfg).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let text = e.to_string();
        assert!(text.contains(file) && text.contains(why), "{file}: {text}");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{file}: took {:?}",
            t.elapsed()
        );
    }
}

/// A watch whose reader loses read permission while it runs (etcd checks permission only
/// when a watch is created) and whose stream then moves: the re-creation is refused (etcd
/// 3.4 answers it with watch id -1), which is reported as `PermissionDenied`, retried, and
/// the watch resumes once the permission is back (issue 19, item 15: it died silently).
#[test]
fn a_watch_refused_after_a_permission_change_reports_it_and_resumes() {
    let mut c = auth_cluster(&[]);
    let f = reader(&c, "readerpw");
    let (tx, rx) = unbounded::<turtle_finder::Change>();
    let (etx, errors) = unbounded::<turtle_finder::Error>();
    let w = f
        .watch_service_with(
            "perm",
            turtle_finder::WatchOptions::default().on_error(move |e| {
                let _ = etx.send(e.clone());
            }),
            move |ch: &turtle_finder::Change| tx.send(ch.clone()).unwrap(),
        )
        .unwrap();
    let r0 = c.put_via(0, "/services/perm", "before");
    assert_eq!(rx.recv_timeout(WAIT).unwrap().revision, r0);
    let range = ["/services/", "--prefix=true"];
    c.etcdctl(&[&["role", "revoke-permission", "reader-read"][..], &range].concat());
    let serving = f.watch_member().expect("serving").to_string();
    c.kill(c.index_of(&serving).unwrap());
    let denied = loop {
        let e = errors.recv_timeout(WAIT).expect("the refusal is reported");
        if e.kind() == ErrorKind::PermissionDenied {
            break e;
        }
    };
    assert!(denied.to_string().contains("permission denied"), "{denied}");
    let last = w.last_error().expect("last_error says it");
    assert_eq!(last.kind(), ErrorKind::PermissionDenied, "{last}");
    let grant = [
        "role",
        "grant-permission",
        "reader-read",
        "read",
        "--prefix=true",
    ];
    c.etcdctl(&[&grant[..], &["/services/"]].concat());
    let rev = c.put_via(
        (c.index_of(&serving).unwrap() + 1) % 3,
        "/services/perm",
        "after",
    );
    loop {
        let ch = rx.recv_timeout(WAIT).expect("the watch resumes");
        if ch.value_str().unwrap() == Some("after") {
            assert!(
                ch.revision == rev || ch.kind == turtle_finder::ChangeKind::Reset,
                "{ch:?}"
            );
            break;
        }
    }
}

/// A finder with TLS settings or credentials never talks plaintext to a member it was not
/// given (issue 19, item 18: a recording proxy caught the token and then the password):
/// an `http://` URL a TLS cluster advertises is not used, and DNS SRV records of plain
/// members are refused to a finder with credentials.
#[test]
fn members_learned_at_run_time_never_get_secrets_in_the_clear() {
    let certs = Arc::new(Certs::new());
    let c = Cluster::start_with(ClusterOptions {
        tls: Some(certs.clone()),
        client_cert_auth: true,
        extra_args: vec!["--advertise-client-urls=http://127.0.0.1:1".into()],
        ..Default::default()
    });
    c.put_via(0, "/services/tls", "v");
    let cfg = tls_config(&c, &certs).with_auto_sync(Duration::from_millis(300));
    let f = ServiceFinder::new(cfg).unwrap();
    let syncs = || {
        let text = f.metrics().unwrap();
        (text.lines())
            .filter(|l| l.contains("operation=\"member_list\",outcome=\"ok\""))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum::<f64>()
    };
    let end = Instant::now() + WAIT;
    while syncs() < 3.0 {
        assert!(Instant::now() < end, "auto-sync never listed the members");
        std::thread::sleep(Duration::from_millis(50)); // auto-sync has no event to await
    }
    let health = f.member_health();
    assert!(
        health.iter().all(|m| m.endpoint != "127.0.0.1:1"),
        "{health:?}"
    );
    assert_eq!(health.len(), 3, "{health:?}");
    assert_eq!(f.get_service("tls").unwrap().as_deref(), Some("v"));

    let plain = Cluster::start();
    let dns = Dnsmasq::plain_members_of(&plain);
    let cfg = Config::discover("turtle.test")
        .unwrap()
        .with_name_server(&dns.addr)
        .unwrap()
        .with_auth("reader", "readerpw")
        .unwrap();
    let e = ServiceFinder::new(cfg).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("never sent in the clear"), "{e}");
}
