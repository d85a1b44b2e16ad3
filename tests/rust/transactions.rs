//! Transactions (issue 20, item 2) against a real cluster: compares on value, version,
//! create and mod revision; both branches with their reads at one revision; a lock's
//! `owner_cmp`; what etcd would refuse.

use turtle_finder::{
    Cmp, Condition, Config, ErrorKind, LockOptions, Operation, ServiceFinder, Txn, WriteOptions,
};
use turtle_tests::Cluster;

fn finder(c: &Cluster) -> ServiceFinder {
    ServiceFinder::new(Config::new(c.endpoints()).unwrap()).unwrap()
}

fn value(e: &Option<turtle_finder::Entry>) -> Option<&str> {
    e.as_ref().map(|e| e.value_str().unwrap())
}

#[test]
fn a_transaction_writes_together_only_when_its_compares_hold() {
    let c = Cluster::start();
    let f = finder(&c);
    let queued = f
        .put("/jobs/42", b"queued", WriteOptions::default())
        .unwrap();
    let start = Txn::new()
        .when([
            Condition::value("/jobs/42", Cmp::Equal, "queued"),
            Condition::mod_revision("/jobs/42", Cmp::Equal, queued),
            Condition::version("/jobs/42", Cmp::Greater, 0),
            Condition::create_revision("/jobs/owner", Cmp::Equal, 0), // absent
        ])
        .then([
            Operation::put("/jobs/42", "running"),
            Operation::put("/jobs/owner", "a"),
            Operation::get("/jobs/42"),
        ])
        .otherwise([Operation::get("/jobs/42"), Operation::get("/jobs/owner")]);
    let first = f.txn(&start).unwrap();
    assert!(first.succeeded);
    assert_eq!(first.gets.len(), 1, "the reads of the branch that ran");
    assert_eq!(value(&first.gets[0]), Some("running"));
    let owner = f.get("/jobs/owner").unwrap().unwrap();
    let job = f.get("/jobs/42").unwrap().unwrap();
    assert_eq!(
        (owner.mod_revision, job.mod_revision),
        (first.revision, first.revision),
        "both writes at the transaction's one revision"
    );
    // Again: the compares fail, nothing is written, the other branch's reads come back.
    let second = f.txn(&start).unwrap();
    assert!(!second.succeeded);
    assert_eq!(second.revision, first.revision, "nothing written");
    let got: Vec<_> = second.gets.iter().map(value).collect();
    assert_eq!(got, [Some("running"), Some("a")]);
    // A compare of an absent key's value never holds, `NotEqual` too (etcd's rule).
    let absent = Txn::new()
        .when([Condition::value("/jobs/none", Cmp::NotEqual, "x")])
        .then([Operation::delete("/jobs/42")])
        .otherwise([Operation::get("/jobs/none")]);
    let third = f.txn(&absent).unwrap();
    assert!(!third.succeeded);
    assert_eq!(third.gets, [None]);
    assert!(f.get("/jobs/42").unwrap().is_some(), "nothing deleted");
}

#[test]
fn a_write_under_owner_cmp_lands_only_while_the_lock_is_held() {
    let c = Cluster::start();
    let f = finder(&c);
    let held = f.lock("ledger", LockOptions::default()).unwrap();
    let write = |v: &str| {
        Txn::new()
            .when([held.owner_cmp()])
            .then([Operation::put("/ledger/balance", v)])
    };
    assert!(f.txn(&write("10")).unwrap().succeeded);
    c.etcdctl(&["del", held.key()]); // the lock is lost under the holder
    assert!(!f.txn(&write("late")).unwrap().succeeded);
    assert_eq!(value(&f.get("/ledger/balance").unwrap()), Some("10"));
}

#[test]
fn transactions_etcd_would_refuse_are_invalid_arguments_that_write_nothing() {
    let c = Cluster::start();
    let f = finder(&c);
    let twice = Txn::new().then([Operation::put("/k", "a"), Operation::put("/k", "b")]);
    let e = f.txn(&twice).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let empty = Txn::new().then([Operation::put("", "a")]);
    assert_eq!(
        f.txn(&empty).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // More operations than etcd takes in one transaction (its --max-txn-ops, 128).
    let many = Txn::new().then((0..129).map(|i| Operation::put(format!("/many/{i}"), "x")));
    let e = f.txn(&many).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("too many operations"), "{e}");
    let keys = c.etcdctl(&["get", "--prefix", "--keys-only", "/"]);
    assert_eq!(keys.trim(), "", "nothing written");
}
