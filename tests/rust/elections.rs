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
    let end = Instant::now() + WAIT;
    while c
        .etcdctl(&["get", "--prefix", "--keys-only", "sched/"])
        .lines()
        .filter(|l| !l.is_empty())
        .count()
        < 2
    {
        assert!(
            Instant::now() < end,
            "the second candidate never put its key"
        );
    }
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
