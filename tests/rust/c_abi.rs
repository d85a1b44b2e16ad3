//! The C face: the C test programs in tests/c/ and the C example, compiled with
//! -Wall -Wextra -Wpedantic -Werror under AddressSanitizer (with leak checks) and UBSan,
//! run against a real cluster; and libturtle as `make install` installs it (cargo-c): its
//! files, SONAME and versions, and the example built through its pkg-config file.
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
fn c_locks_fenced_writes_and_elections_under_sanitizers() {
    run_c_test("locks");
}

#[test]
fn c_transactions_and_running_for_leader_under_sanitizers() {
    run_c_test("transactions");
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

/// A C program that keeps SIGPIPE's default action looks up from two threads while members
/// are killed and restarted twelve times: it must live on (a write to a dead member's socket
/// raised SIGPIPE in the calling thread and killed such programs: issue 19, item 17).
#[test]
fn c_programs_are_never_sent_sigpipe() {
    use std::io::{BufRead, BufReader};
    let mut c = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("sigpipe");
    let lib = lib_dir();
    let extra = [
        format!("-I{}", root().join("include").display()),
        format!("-L{}", lib.display()),
        "-lturtle".into(),
        "-lpthread".into(),
    ];
    compile(&root().join("tests/c/sigpipe.c"), &bin, &extra);
    let mut cmd = Command::new(&bin);
    sanitized(&mut cmd, &c);
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "sigpipe: ready\n");
    for round in 0..12 {
        let victim = round % c.len();
        c.kill(victim);
        c.restart(victim);
    }
    drop(child.stdin.take()); // the program ends when its stdin closes
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        status.success(),
        "the program ended by {status:?}; it said {rest:?}"
    );
    assert!(rest.contains("sigpipe: ok"), "{rest}");
}

#[test]
fn c_shutdown_orders_under_sanitizers() {
    run_c_test("shutdown");
}

/// Runs tools/install.sh (cargo-c's `cinstall`, then the turtle command) with `env`.
fn install(env: &[(&str, &Path)]) {
    let mut cmd = Command::new(root().join("tools/install.sh"));
    // Not the variables cargo set for this test (CARGO_PKG_NAME, CARGO_MANIFEST_DIR...):
    // build scripts (ring's) watch them, and seeing them change would rebuild what
    // `make test` built before.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR" {
            cmd.env_remove(&*name);
        }
    }
    let out = cmd
        .env_remove("DESTDIR")
        .env_remove("LIBDIR")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `program args` and returns its standard output, failing the test if it fails.
fn output_of(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// One test installs twice in turn: cargo-c writes turtle.pc (which holds the prefix) into
// the shared target directory before copying it, so two installs at once could mix.
#[test]
fn installed_library_layout_versions_and_the_example_through_pkg_config() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");

    // DESTDIR and LIBDIR: files land under DESTDIR, while turtle.pc names the final place.
    let stage = tmp.path().join("stage");
    install(&[
        ("PREFIX", Path::new("/opt/turtle")),
        ("LIBDIR", Path::new("/opt/turtle/lib64")),
        ("DESTDIR", &stage),
    ]);
    let staged = stage.join("opt/turtle");
    for file in [
        "lib64/libturtle.so.0.1.0",
        "lib64/libturtle.a",
        "include/turtle.h",
        "bin/turtle",
    ] {
        assert!(staged.join(file).is_file(), "{file} not under DESTDIR");
    }
    let pc_text = std::fs::read_to_string(staged.join("lib64/pkgconfig/turtle.pc")).unwrap();
    assert!(
        pc_text.contains("prefix=/opt/turtle\n") && pc_text.contains("libdir=${prefix}/lib64\n"),
        "{pc_text}"
    );

    install(&[("PREFIX", &prefix)]);
    let lib = prefix.join("lib");
    // The usual file and symlink set, and the SONAME: the ABI major.
    let so = lib.join(format!("libturtle.so.{}", env!("CARGO_PKG_VERSION")));
    assert!(so.is_file() && !so.is_symlink());
    for link in ["libturtle.so", "libturtle.so.0"] {
        assert_eq!(
            std::fs::read_link(lib.join(link)).unwrap(),
            Path::new(so.file_name().unwrap()),
            "{link}"
        );
    }
    let dynamic = output_of("readelf", &["-d", so.to_str().unwrap()]);
    let soname = dynamic
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .unwrap_or_else(|| panic!("no SONAME:\n{dynamic}"));
    assert!(soname.contains("[libturtle.so.0]"), "{soname}");
    // Stripped: no debug info in either library.
    for file in [&so, &lib.join("libturtle.a")] {
        let sections = output_of("readelf", &["-S", "-W", file.to_str().unwrap()]);
        assert!(
            !sections.contains(".debug_info"),
            "{} has debug info",
            file.display()
        );
    }
    assert_eq!(exported_functions(&so), header_functions());

    let pc = |args: &[&str]| -> Vec<String> {
        let out = Command::new("pkg-config")
            .args(args)
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
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
    pc(&["--validate", "turtle"]);
    // The header's version macros, the .pc version and the SONAME agree.
    let header = std::fs::read_to_string(prefix.join("include/turtle.h")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let major = version.split('.').next().unwrap();
    assert!(header.contains(&format!("#define TURTLE_VERSION \"{version}\"\n")));
    assert!(header.contains(&format!("#define TURTLE_VERSION_MAJOR {major}\n")));
    assert_eq!(pc(&["--modversion", "turtle"]), [version]);
    assert!(soname.contains(&format!("libturtle.so.{major}]")));
    // The turtle command beside the library.
    assert_eq!(
        output_of(prefix.join("bin/turtle").to_str().unwrap(), &["--version"]).trim(),
        format!("turtle {version}")
    );

    // The example, built against the installed .pc: shared, and static (libturtle.a, and
    // what the Rust standard library needs from the .pc's Libs.private).
    let example = root().join("examples/c/service_finder.c");
    let shared = tmp.path().join("service_finder_shared");
    let stat = tmp.path().join("service_finder_static");
    let mut flags = vec!["-D_DEFAULT_SOURCE".to_string()];
    flags.extend(pc(&["--cflags", "--libs", "turtle"]));
    compile(&example, &shared, &flags);
    let mut flags = vec!["-D_DEFAULT_SOURCE".to_string()];
    flags.extend(pc(&["--cflags", "turtle"]));
    flags.push(lib.join("libturtle.a").display().to_string());
    flags.extend(
        pc(&["--static", "--libs-only-l", "turtle"])
            .into_iter()
            .filter(|l| l != "-lturtle"),
    );
    compile(&example, &stat, &flags);
    let ldd = output_of("ldd", &[stat.to_str().unwrap()]);
    assert!(
        !ldd.contains("libturtle"),
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

    // The shared build finds libturtle.so.0 in the installed libdir, the only path given.
    let libs = Command::new("ldd")
        .arg(&shared)
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    let libs = String::from_utf8_lossy(&libs.stdout);
    assert!(
        libs.contains(&format!(
            "libturtle.so.0 => {}",
            lib.join("libturtle.so.0").display()
        )),
        "{libs}"
    );
    let out = Command::new(&shared)
        .arg("1")
        .env("TURTLE_ENDPOINTS", c.endpoints().join(","))
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Critical Section!"),
        "{out:?}"
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

/// The functions the shared library `lib` exports (`nm -D --defined-only`).
fn exported_functions(lib: &Path) -> std::collections::BTreeSet<String> {
    output_of("nm", &["-D", "--defined-only", lib.to_str().unwrap()])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(String::from))
        .collect()
}

#[test]
fn libturtle_exports_exactly_the_headers_functions() {
    let exported = exported_functions(&lib_dir().join("libturtle.so"));
    let declared = header_functions();
    assert!(declared.len() > 50, "the header parse found {declared:?}");
    let extra: Vec<_> = exported.difference(&declared).collect();
    let missing: Vec<_> = declared.difference(&exported).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "exported but not declared: {extra:?}; declared but not exported: {missing:?}"
    );
}
