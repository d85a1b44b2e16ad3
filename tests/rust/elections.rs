//! Leader election (issue 20, item 3) against a real cluster: turns, proclaim, resign,
//! observers that see every leader and "no leader", and `etcdctl elect` both ways.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use turtle_finder::{Config, ErrorKind, LockOptions, ServiceFinder};
use turtle_tests::Cluster;

const WAIT: Duration = Duration::from_secs(20);

fn finder(c: &Cluster) -> ServiceFinder {
    ServiceFinder::new(Config::new(c.endpoints()).unwrap()).unwrap()
}

/// What an observer saw: the leader's value, or `None`.
fn observed(f: &ServiceFinder, name: &str) -> (turtle_finder::Watch, Receiver<Option<String>>) {
    let (tx, rx) = unbounded();
    let w = f
        .observe(name, move |l| {
            let value = l.map(|l| l.value_str().unwrap().to_string());
            tx.send(value).unwrap();
        })
        .unwrap();
    (w, rx)
}

fn next(rx: &Receiver<Option<String>>) -> Option<String> {
    rx.recv_timeout(WAIT).expect("the observer heard nothing")
}

/// Waits until election `name` has `n` candidates' keys (nothing outside the finders
/// tells of a key put).
fn await_candidates(c: &Cluster, name: &str, n: usize) {
    let end = Instant::now() + WAIT;
    let prefix = format!("{name}/");
    loop {
        let out = c.etcdctl(&["get", "--prefix", "--keys-only", &prefix]);
        if out.lines().filter(|l| !l.is_empty()).count() == n {
            return;
        }
        assert!(Instant::now() < end, "never {n} candidates: {out}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn candidates_lead_in_turn_and_observers_see_each_leader_and_none() {
    let c = Cluster::start();
    let (a, b, o) = (finder(&c), finder(&c), finder(&c));
    let (_w, seen) = observed(&o, "sched");
    assert_eq!(next(&seen), None, "no leader yet");
    assert_eq!(o.leader("sched").unwrap(), None);

    let leading = a.campaign("sched", b"a", LockOptions::default()).unwrap();
    assert_eq!(next(&seen).as_deref(), Some("a"));
    let now = o.leader("sched").unwrap().unwrap();
    assert_eq!(
        (now.key.as_str(), now.revision),
        (leading.key(), leading.token())
    );

    let waiting = std::thread::spawn(move || {
        let l = b
            .campaign("sched", b"b", LockOptions::timeout(WAIT))
            .unwrap();
        (b, l)
    });
    await_candidates(&c, "sched", 2);
    a.proclaim(&leading, b"a2").unwrap();
    assert_eq!(
        next(&seen).as_deref(),
        Some("a2"),
        "a proclaimed value is seen"
    );
    leading.resign();
    let (b, second) = waiting.join().unwrap();
    assert_eq!(next(&seen).as_deref(), Some("b"));
    assert!(second.token() > leading.token());
    let e = a.proclaim(&leading, b"late").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConditionFailed, "{e}");
    second.resign();
    assert_eq!(next(&seen), None, "no leader after the last resigns");
    drop(b);
}

#[test]
fn turtle_and_etcdctl_elect_see_each_others_leaders() {
    let c = Cluster::start();
    let f = finder(&c);
    let (_w, seen) = observed(&f, "jobs");
    assert_eq!(next(&seen), None);
    // etcdctl leads: turtle's observer sees its value, and turtle's campaign waits.
    let mut theirs = c
        .etcdctl_command()
        .args(["elect", "jobs", "from-etcdctl"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(next(&seen).as_deref(), Some("from-etcdctl"));
    let g = finder(&c);
    let waiting = std::thread::spawn(move || {
        let l = g.campaign("jobs", b"from-turtle", LockOptions::timeout(WAIT));
        (g, l)
    });
    let end = Instant::now() + WAIT;
    while c
        .etcdctl(&["get", "--prefix", "--keys-only", "jobs/"])
        .lines()
        .filter(|l| !l.is_empty())
        .count()
        < 2
    {
        assert!(Instant::now() < end, "turtle's candidate never put its key");
    }
    // SAFETY: our child, not yet reaped.
    unsafe { libc::kill(theirs.id() as i32, libc::SIGTERM) };
    theirs.wait().unwrap();
    let (_g, mine) = waiting.join().unwrap();
    let mine = mine.unwrap();
    assert_eq!(next(&seen).as_deref(), Some("from-turtle"));
    // etcdctl's observer sees the turtle leader: its key, then its value.
    let mut listen = c
        .etcdctl_command()
        .args(["elect", "-l", "jobs"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(listen.stdout.take().unwrap());
    let (mut key, mut value) = (String::new(), String::new());
    out.read_line(&mut key).unwrap();
    out.read_line(&mut value).unwrap();
    assert_eq!((key.trim(), value.trim()), (mine.key(), "from-turtle"));
    listen.kill().unwrap();
    listen.wait().unwrap();
    mine.resign();
}

/// What a candidacy's callbacks heard, in order.
#[derive(Debug, PartialEq)]
enum Heard {
    Elected(String, i64),
    Lost(ErrorKind),
}

fn running(
    f: &ServiceFinder,
    name: &str,
    value: &str,
) -> (turtle_finder::Candidacy, Receiver<Heard>) {
    let (tx, rx) = unbounded();
    let (won, lost) = (tx.clone(), tx);
    let c = f
        .run_for_leader(
            name,
            value.as_bytes(),
            LockOptions::default(),
            std::sync::Arc::new(move |l| {
                let v = l.value_str().unwrap().to_string();
                won.send(Heard::Elected(v, l.revision)).unwrap();
            }),
            std::sync::Arc::new(move |e| lost.send(Heard::Lost(e.kind())).unwrap()),
        )
        .unwrap();
    (c, rx)
}

fn heard(rx: &Receiver<Heard>) -> Heard {
    rx.recv_timeout(WAIT).expect("the candidacy heard nothing")
}

#[test]
fn a_candidate_runs_again_after_a_loss_until_stopped() {
    let c = Cluster::start();
    let (fa, fb) = (finder(&c), finder(&c));
    let (a, a_heard) = running(&fa, "cron", "a");
    let Heard::Elected(v, first) = heard(&a_heard) else {
        panic!("not elected first")
    };
    assert_eq!(v, "a");
    assert!(a.is_leading());
    assert_eq!(a.leadership().unwrap().token(), first);
    let (b, b_heard) = running(&fb, "cron", "b");
    // a loses its leadership under it (its key deleted): it hears so, b leads, and a
    // runs again behind b.
    let a_key = a.leadership().unwrap().key().to_string();
    await_candidates(&c, "cron", 2);
    c.etcdctl(&["del", &a_key]);
    assert_eq!(heard(&a_heard), Heard::Lost(ErrorKind::SessionLost));
    let Heard::Elected(v, second) = heard(&b_heard) else {
        panic!("b not elected")
    };
    assert_eq!(v, "b");
    assert!(second > first, "tokens grow");
    assert!(!a.is_leading());
    // b stops (resigns): a, running again, leads with a newer token.
    b.stop();
    assert!(!b.is_leading());
    let Heard::Elected(_, third) = heard(&a_heard) else {
        panic!("a not elected again")
    };
    assert!(third > second);
    a.stop();
    a.stop(); // idempotent
    assert_eq!(
        fa.leader("cron").unwrap(),
        None,
        "no leader once both stopped"
    );
    assert!(a_heard.try_recv().is_err() && b_heard.try_recv().is_err());
    let e = fa
        .run_for_leader(
            "",
            b"x",
            LockOptions::default(),
            std::sync::Arc::new(|_| {}),
            std::sync::Arc::new(|_| {}),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

/// The next leader of an async observer.
async fn next_leader(s: &mut turtle_finder::LeaderStream) -> Option<turtle_finder::Leader> {
    let got = tokio::time::timeout(WAIT, s.next()).await.expect("nothing");
    got.expect("the stream ended").expect("an error")
}

/// The async face: `Client::observe` is a stream of leaders, `None` when there is none.
#[test]
fn an_async_observer_streams_each_leader_and_none() {
    let c = Cluster::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cfg = Config::new(c.endpoints()).unwrap();
        let client = turtle_finder::Client::connect(cfg).await.unwrap();
        let mut leaders = client.observe("async-e").await.unwrap();
        assert_eq!(next_leader(&mut leaders).await, None, "no leader yet");
        let leading = client
            .campaign("async-e", b"one", LockOptions::default())
            .await
            .unwrap();
        let now = next_leader(&mut leaders).await.expect("a leader");
        assert_eq!(
            (now.value.as_slice(), now.revision),
            (&b"one"[..], leading.token())
        );
        client.proclaim(&leading, b"two").await.unwrap();
        assert_eq!(next_leader(&mut leaders).await.unwrap().value, b"two");
        leading.resign_async().await;
        assert_eq!(
            next_leader(&mut leaders).await,
            None,
            "none after the resign"
        );
        leaders.cancel();
        assert!(leaders.next().await.is_none(), "ended once cancelled");
        let e = client.observe("").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    });
}

/// Waits until the observer sees `want`, passing over the leaders before it.
fn until_seen(rx: &Receiver<Option<String>>, want: &str) {
    let end = Instant::now() + WAIT;
    while next(rx).as_deref() != Some(want) {
        assert!(Instant::now() < end, "never saw {want}");
    }
}

/// An observer resumes like every watch: across the kill of the member its watch was on,
/// and across a compaction of the history it had not yet heard (a reset delivers the
/// leader now).
#[test]
fn an_observer_resumes_across_failover_and_compaction() {
    use turtle_tests::Mode;
    let mut c = Cluster::start();
    let (o, proxies) = crate::locks::behind_proxies(&c);
    let (_w, seen) = observed(&o, "resume-e");
    assert_eq!(next(&seen), None);
    let a = finder(&c);
    let one = a
        .campaign("resume-e", b"one", LockOptions::default())
        .unwrap();
    until_seen(&seen, "one");
    let serving = o.preferred_member().to_string();
    let i = (proxies.iter())
        .position(|p| p.endpoint() == serving)
        .unwrap();
    c.kill(i);
    one.resign();
    let two = a
        .campaign("resume-e", b"two", LockOptions::default())
        .unwrap();
    until_seen(&seen, "two");
    c.restart(i);
    // Nothing reaches the observer while its history is compacted away.
    proxies.iter().for_each(|p| p.set(Mode::Hold));
    two.resign();
    let three = a
        .campaign("resume-e", b"three", LockOptions::default())
        .unwrap();
    let rev = c.put_via(0, "/after", "x");
    c.compact_via(0, rev);
    proxies.iter().for_each(|p| p.set(Mode::Pass));
    until_seen(&seen, "three");
    assert_eq!(
        o.leader("resume-e").unwrap().unwrap().revision,
        three.token()
    );
    three.resign();
    until_seen_none(&seen);
}

fn until_seen_none(rx: &Receiver<Option<String>>) {
    let end = Instant::now() + WAIT;
    while next(rx).is_some() {
        assert!(Instant::now() < end, "never saw no leader");
    }
}
