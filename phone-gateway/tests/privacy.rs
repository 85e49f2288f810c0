//! Retention: a message's text is kept only until it is finished, and its number only as a hash
//! after that. Read from the gateway's SQLite files themselves, through SQL and byte by byte.

mod common;

use common::*;
use otp_shared::wire::MessageState;
use sha2::{Digest, Sha256};

const NUMBER: &str = "+14152004242";
const TEXT: &str = "Your code is 731904, do not share it";

fn file_contains(path: &std::path::Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_sent_message_keeps_neither_its_text_nor_its_number() {
    let gw = Gateway::start("[queue]\ncleanup_interval_secs = 1\n");
    assert_eq!(gw.send(&msg("private", "otp", NUMBER, TEXT)).await.0, 202);
    wait_for(30, "sent", || async {
        gw.status("private").await.unwrap().state == MessageState::Sent
    })
    .await;
    assert_eq!(numbers(&gw.sent()), [NUMBER], "it did go out");

    let db = gw.dir.path().join("gw.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let (number, hash, body): (Option<String>, String, Option<String>) = conn
            .query_row(
                "SELECT to_number, to_sha256, body FROM messages WHERE id = 'private'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(body, None, "the text outlived the send");
        assert_eq!(number, None, "the number outlived the send");
        assert_eq!(hash, hex::encode(Sha256::digest(NUMBER)));
    }

    // No copy left anywhere in the files either, once a cleanup round has checkpointed the WAL.
    let wal = gw.dir.path().join("gw.db-wal");
    wait_for(10, "no text or number in the database files", || async {
        [&db, &wal]
            .iter()
            .all(|f| !file_contains(f, TEXT) && !file_contains(f, &NUMBER[1..]))
    })
    .await;
}

#[tokio::test]
async fn a_queued_message_keeps_what_it_needs_until_it_is_finished() {
    let gw = Gateway::start("");
    gw.control("fail_count", "1");
    assert_eq!(gw.send(&msg("retry", "otp", NUMBER, TEXT)).await.0, 202);
    // the first attempt fails; the retry still has the number and text to send
    wait_for(30, "sent on the retry", || async {
        gw.status("retry").await.unwrap().state == MessageState::Sent
    })
    .await;
    let sent = gw.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].args, ["-n", NUMBER, TEXT]);
    assert_eq!(gw.calls().len(), 2);
}
