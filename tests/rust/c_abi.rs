//! The C face: the C test programs in tests/c/ and the C example, compiled with
//! -Wall -Wextra -Wpedantic -Werror under AddressSanitizer (with leak checks) and UBSan,
//! run against a real cluster; and the example built through pkg-config, shared and static.
//!
//! Uses the libturtle that `make test` builds first (`cargo build --workspace`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use turtle_tests::Cluster;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// target/debug, where cargo put libturtle.so next to this test's deps/ folder.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("libturtle.so").exists(),
        "{} has no libturtle.so: run `cargo build -p turtle-ffi` first (make test does)",
        dir.display()
    );
    dir
}

const WARNINGS: &[&str] = &[
    "-std=c11",
    "-D_POSIX_C_SOURCE=200809L",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-g",
];
const SANITIZERS: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];

fn compile(source: &Path, out: &Path, extra: &[String]) {
    let result = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(WARNINGS)
        .arg(source)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .expect("run cc");
    assert!(
        result.status.success(),
        "cc {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&result.stderr)
    );
}

fn sanitized(cmd: &mut Command, c: &Cluster) {
    cmd.env("TURTLE_ENDPOINTS", c.endpoints().join(","))
        .env("LD_LIBRARY_PATH", lib_dir())
        .env("ASAN_OPTIONS", "detect_leaks=1:exitcode=23")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .env("RUST_BACKTRACE", "0");
}

/// Compiles tests/c/NAME.c under the sanitizers and runs it against a fresh cluster.
fn run_c_test(name: &str) {
    run_c_test_on(name, Cluster::start(), &[]);
}

/// [`run_c_test`] against cluster `c`, with more environment for the program.
fn run_c_test_on(name: &str, c: Cluster, env: &[(&str, String)]) {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join(name);
    let lib = lib_dir();
    let mut extra: Vec<String> = SANITIZERS.iter().map(|s| s.to_string()).collect();
    extra.extend([
        format!("-I{}", root().join("include").display()),
        format!("-L{}", lib.display()),
        "-lturtle".into(),
        "-lpthread".into(),
    ]);
    compile(&root().join(format!("tests/c/{name}.c")), &bin, &extra);
    let mut cmd = Command::new(&bin);
    sanitized(&mut cmd, &c);
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("ERROR: AddressSanitizer") && !stderr.contains("runtime error:"),
        "{name}: sanitizer report:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{name}: ok")),
        "{name} did not finish: {stdout}"
    );
}

#[test]
fn c_lookups_under_sanitizers() {
    run_c_test("lookup");
}

#[test]
fn c_watches_under_sanitizers() {
    run_c_test("watch");
}

#[test]
fn c_bad_input_under_sanitizers() {
    run_c_test("bad_input");
}

#[test]
fn c_registration_instances_and_cache_under_sanitizers() {
    run_c_test("services");
}

#[test]
fn c_metrics_members_and_health_under_sanitizers() {
    run_c_test("monitoring");
}

#[test]
fn c_values_of_any_bytes_and_size_under_sanitizers() {
    run_c_test("values");
}

#[test]
fn c_random_call_sequences_under_sanitizers() {
    run_c_test("fuzz");
}

/// The lookup and watch programs against a TLS cluster that wants client certificates:
/// libturtle takes them from TURTLE_CA_FILE, TURTLE_CERT_FILE and TURTLE_KEY_FILE (and
/// the programs' etcdctl from its own ETCDCTL_* variables).
#[test]
fn c_lookups_and_watches_over_tls_with_client_certificates() {
    let certs = std::sync::Arc::new(turtle_tests::Certs::new());
    for name in ["lookup", "watch"] {
        let c = Cluster::start_with(turtle_tests::ClusterOptions {
            tls: Some(certs.clone()),
            client_cert_auth: true,
            ..Default::default()
        });
        let path = |p: &Path| p.display().to_string();
        let env = [
            ("TURTLE_CA_FILE", path(&certs.ca)),
            ("TURTLE_CERT_FILE", path(&certs.client.cert)),
            ("TURTLE_KEY_FILE", path(&certs.client.key)),
            ("ETCDCTL_CACERT", path(&certs.ca)),
            ("ETCDCTL_CERT", path(&certs.client.cert)),
            ("ETCDCTL_KEY", path(&certs.client.key)),
        ];
        run_c_test_on(name, c, &env);
    }
}

#[test]
fn c_shutdown_orders_under_sanitizers() {
    run_c_test("shutdown");
}

#[test]
fn c_example_through_pkg_config_shared_and_static_and_the_installed_command() {
    let prefix = tempfile::tempdir().unwrap();
    let lib = lib_dir();
    let install = Command::new(root().join("tools/install.sh"))
        .env("PREFIX", prefix.path())
        .env("PROFILE", "debug")
        .env("SKIP_BUILD", "1")
        .env("CARGO_TARGET_DIR", lib.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "install: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    // `make install` puts the turtle command beside the library.
    let version = Command::new(prefix.path().join("bin/turtle"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("turtle {}", env!("CARGO_PKG_VERSION"))
    );
    let pc = |args: &[&str]| -> Vec<String> {
        let out = Command::new("pkg-config")
            .args(args)
            .env("PKG_CONFIG_PATH", prefix.path().join("lib/pkgconfig"))
            .output()
            .expect("pkg-config");
        assert!(
            out.status.success(),
            "pkg-config {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(pc(&["--modversion", "turtle"]), [env!("CARGO_PKG_VERSION")]);
    let example = root().join("examples/c/service_finder.c");
    let shared = prefix.path().join("service_finder_shared");
    let stat = prefix.path().join("service_finder_static");
    let mut flags = vec!["-D_DEFAULT_SOURCE".to_string()];
    flags.extend(pc(&["--cflags", "--libs", "turtle"]));
    compile(&example, &shared, &flags);
    let mut flags = vec!["-D_DEFAULT_SOURCE".to_string()];
    flags.extend(pc(&["--cflags", "--libs", "turtle-static"]));
    compile(&example, &stat, &flags);
    let ldd = Command::new("ldd").arg(&stat).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ldd.stdout).contains("libturtle"),
        "static build links libturtle.so"
    );

    // The static build runs the seed's loop: lookup, a change seen by the callback.
    let c = Cluster::start();
    c.put_via(0, "/services/cdd", r#"[ "turtle1" ]"#);
    let mut child = Command::new(&stat)
        .arg("3")
        .env("TURTLE_ENDPOINTS", c.endpoints().join(","))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a line from the example")
    };
    assert_eq!(next(), r#"cdd = [ "turtle1" ]"#);
    c.put_via(1, "/services/cdd", r#"[ "turtle2" ]"#);
    let mut lines = Vec::new();
    loop {
        let l = next();
        lines.push(l.clone());
        if l == r#"Key change: [ "turtle2" ]"# {
            break;
        }
    }
    assert!(child.wait().unwrap().success());
    let rest: Vec<String> = rx.iter().collect();
    let sections = lines
        .iter()
        .chain(&rest)
        .filter(|l| *l == "Critical Section!")
        .count();
    assert_eq!(sections, 3, "{lines:?} {rest:?}");

    let mut shared_run = Command::new(&shared);
    shared_run
        .arg("1")
        .env("TURTLE_ENDPOINTS", c.endpoints().join(","))
        .env("LD_LIBRARY_PATH", prefix.path().join("lib"));
    let out = shared_run.output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Critical Section!")
    );
}

/// The functions turtle.h declares.
fn header_functions() -> std::collections::BTreeSet<String> {
    let header = std::fs::read_to_string(root().join("include/turtle.h")).unwrap();
    let mut names = std::collections::BTreeSet::new();
    // A declaration: a name right before "(" (a callback typedef has ")(" instead).
    for (at, _) in header.match_indices("turtle_") {
        let name: String = header[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = header[at + name.len()..].trim_start();
        let before = header[..at].trim_end();
        if after.starts_with('(') && !before.ends_with("(*") && !before.ends_with("#define") {
            names.insert(name);
        }
    }
    names
}

#[test]
fn libturtle_exports_exactly_the_headers_functions() {
    let lib = lib_dir().join("libturtle.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success());
    let exported: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(String::from))
        .collect();
    let declared = header_functions();
    assert!(declared.len() > 50, "the header parse found {declared:?}");
    let extra: Vec<_> = exported.difference(&declared).collect();
    let missing: Vec<_> = declared.difference(&exported).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "exported but not declared: {extra:?}; declared but not exported: {missing:?}"
    );
}
