//! The Firestore REST client against the official emulator: reads, writes with preconditions,
//! increments under concurrency, transactions, queries and paging.

mod support;

use otp_edge::native::ReqwestClient;
use otp_edge::store::{Firestore, Precondition, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    name: String,
    balance: i64,
    tags: Vec<String>,
    limits: std::collections::BTreeMap<String, i64>,
    ratio: f64,
    closed: bool,
    note: Option<String>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn db(project: &str) -> (Firestore, ReqwestClient) {
    (
        Firestore::new(&support::config(&support::unique(project))),
        ReqwestClient::default(),
    )
}

#[tokio::test]
async fn typed_documents_round_trip() {
    let (db, http) = db("roundtrip");
    let a = Account {
        name: "Ada".into(),
        balance: -7,
        tags: vec!["x".into(), "y".into()],
        limits: [("day".into(), 5)].into(),
        ratio: 0.25,
        closed: false,
        note: None,
    };
    db.commit(&http, now(), vec![Write::set("accounts/a1".into(), &a)])
        .await
        .unwrap();
    let got = db
        .get::<Account, _>(&http, now(), "accounts/a1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.value, a);
    assert!(!got.update_time.is_empty());
    assert!(db
        .get::<Account, _>(&http, now(), "accounts/missing")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn preconditions_guard_create_and_update() {
    let (db, http) = db("preconditions");
    let create =
        || Write::set("docs/d".into(), &json!({"v": 1})).precondition(Precondition::Exists(false));
    db.commit(&http, now(), vec![create()]).await.unwrap();
    assert_eq!(
        db.commit(&http, now(), vec![create()]).await.unwrap_err(),
        StoreError::AlreadyExists
    );

    let first = db
        .get::<Value, _>(&http, now(), "docs/d")
        .await
        .unwrap()
        .unwrap();
    let guarded = |v: i64| {
        Write::set("docs/d".into(), &json!({"v": v}))
            .precondition(Precondition::UpdateTime(first.update_time.clone()))
    };
    db.commit(&http, now(), vec![guarded(2)]).await.unwrap();
    // The second writer read the same version: its write must be refused.
    assert!(matches!(
        db.commit(&http, now(), vec![guarded(3)]).await.unwrap_err(),
        StoreError::PreconditionFailed(_)
    ));
    assert_eq!(
        db.get::<Value, _>(&http, now(), "docs/d")
            .await
            .unwrap()
            .unwrap()
            .value["v"],
        2
    );

    let update_missing =
        Write::set("docs/none".into(), &json!({"v": 1})).precondition(Precondition::Exists(true));
    assert_eq!(
        db.commit(&http, now(), vec![update_missing])
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

#[tokio::test]
async fn commits_are_atomic() {
    let (db, http) = db("atomic");
    db.commit(&http, now(), vec![Write::set("t/taken".into(), &json!({}))])
        .await
        .unwrap();
    let writes = vec![
        Write::set("t/new".into(), &json!({"a": 1})),
        Write::set("t/taken".into(), &json!({"b": 1})).precondition(Precondition::Exists(false)),
    ];
    assert!(db.commit(&http, now(), writes).await.is_err());
    assert!(
        db.get::<Value, _>(&http, now(), "t/new")
            .await
            .unwrap()
            .is_none(),
        "the first write must not land alone"
    );
}

#[tokio::test]
async fn increments_add_up_under_concurrency() {
    let (db, http) = db("increment");
    let tasks = (0..50).map(|_| {
        db.commit(
            &http,
            now(),
            vec![Write::increment("counters/c".into(), "hits", 1)],
        )
    });
    for r in futures_join_all(tasks).await {
        r.unwrap();
    }
    let c = db
        .get::<Value, _>(&http, now(), "counters/c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.value["hits"], 50);
}

#[tokio::test]
async fn transactions_read_modify_write() {
    let (db, http) = db("tx");
    db.commit(
        &http,
        now(),
        vec![Write::set("acct/x".into(), &json!({"balance": 10}))],
    )
    .await
    .unwrap();
    let tx = db.begin_transaction(&http, now()).await.unwrap();
    let cur = db
        .get_in::<Value, _>(&http, now(), &tx, "acct/x")
        .await
        .unwrap()
        .unwrap();
    let bal = cur.value["balance"].as_i64().unwrap();
    db.commit_in(
        &http,
        now(),
        &tx,
        vec![Write::set("acct/x".into(), &json!({"balance": bal - 3}))],
    )
    .await
    .unwrap();
    assert_eq!(
        db.get::<Value, _>(&http, now(), "acct/x")
            .await
            .unwrap()
            .unwrap()
            .value["balance"],
        7
    );

    let tx = db.begin_transaction(&http, now()).await.unwrap();
    db.get_in::<Value, _>(&http, now(), &tx, "acct/x")
        .await
        .unwrap();
    db.rollback(&http, now(), &tx).await.unwrap();
    assert_eq!(
        db.get::<Value, _>(&http, now(), "acct/x")
            .await
            .unwrap()
            .unwrap()
            .value["balance"],
        7
    );
}

#[tokio::test]
async fn queries_batch_gets_and_pages() {
    let (db, http) = db("query");
    let writes = (0..7)
        .map(|i| {
            Write::set(
                format!("items/i{i}"),
                &json!({"owner": if i % 2 == 0 { "even" } else { "odd" }, "n": i}),
            )
        })
        .collect();
    db.commit(&http, now(), writes).await.unwrap();

    let mut evens: Vec<i64> = db
        .query_eq::<Value, _>(&http, now(), "items", "owner", json!("even"), 10)
        .await
        .unwrap()
        .iter()
        .map(|d| d.value["n"].as_i64().unwrap())
        .collect();
    evens.sort();
    assert_eq!(evens, vec![0, 2, 4, 6]);

    let got = db
        .batch_get::<Value, _>(
            &http,
            now(),
            &["items/i1".into(), "items/nope".into(), "items/i3".into()],
        )
        .await
        .unwrap();
    assert_eq!(
        got.iter()
            .map(|d| d.as_ref().map(|d| d.value["n"].as_i64().unwrap()))
            .collect::<Vec<_>>(),
        vec![Some(1), None, Some(3)]
    );

    let (mut seen, mut token) = (Vec::new(), None);
    loop {
        let (page, next) = db
            .list::<Value, _>(&http, now(), "items", 3, token.as_deref())
            .await
            .unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.into_iter().map(|d| d.path));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
}

#[tokio::test]
async fn unreachable_store_is_unavailable_not_a_panic() {
    let cfg = otp_edge::config::Config::from_lookup(|k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some("127.0.0.1:9".into()),
        _ => None,
    })
    .unwrap();
    let db = Firestore::new(&cfg);
    let err = db
        .get::<Value, _>(&ReqwestClient::default(), now(), "x/y")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let handles: Vec<_> = fs.collect();
    // The futures borrow the client, so drive them together on this task.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(results.into_iter().map(Option::unwrap));
    out
}
