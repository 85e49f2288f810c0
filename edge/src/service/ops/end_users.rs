//! Active, new and returning end users, from counters. A number verified for a tenant leaves a
//! marker (`repo::end_users`: first and last verification, under the keyed hash that already
//! names its verification slot). The first verification of a number in a day, an ISO week or a
//! month adds one to that period's `users_active`; its first verification ever adds one to
//! `users_new` of the day, week and month; a number active in a period but not new in it is
//! returning. The marker and the increments are one commit guarded by the version read, so a
//! number is counted once per period however many isolates verify it at once. Later
//! verifications in the same day write nothing.
//!
//! Why a marker and not a set or a sketch per period: "new" needs to know every number ever
//! verified for the tenant, which a per-period set or HyperLogLog cannot say; the marker answers
//! both questions with one small document per (tenant, number), and the per-period figures are
//! exact. Its cost: one read per approval, one write per number per day at most.

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ops::analytics::{CounterBuffer, Granularity, SHARDS};
use crate::service::repo::end_users::{marker_path, Seen};
use crate::store::StoreError;
use otp_shared::ids::TenantId;

/// The periods an end user's end-user counts change at (day, week, month).
pub const PERIODS: [Granularity; 3] = [Granularity::Day, Granularity::Week, Granularity::Month];

/// What one verification at `now` adds, given the marker found: (granularities whose
/// `users_active` it adds to, whether it is new), and the marker to write (none: nothing changes).
pub fn on_verified(found: Option<Seen>, now: i64) -> (Vec<Granularity>, bool, Option<Seen>) {
    match found {
        None => (
            PERIODS.to_vec(),
            true,
            Some(Seen {
                first_ms: now,
                last_ms: now,
            }),
        ),
        Some(s) => {
            let active: Vec<Granularity> = PERIODS
                .iter()
                .copied()
                .filter(|g| g.period(s.last_ms) != g.period(now))
                .collect();
            // A verification older than the last seen (clock skew between isolates) changes nothing.
            if active.is_empty() || now < s.last_ms {
                return (Vec::new(), false, None);
            }
            (
                active,
                false,
                Some(Seen {
                    first_ms: s.first_ms,
                    last_ms: now,
                }),
            )
        }
    }
}

/// The counter increments of one verification's end-user figures, on `shard`.
pub fn increments(
    tenant_id: &TenantId,
    active: &[Granularity],
    new: bool,
    now: i64,
    shard: u32,
) -> Vec<(String, Vec<(String, i64)>)> {
    let mut b = CounterBuffer::default();
    b.add_at(tenant_id, active, "users_active", now);
    if new {
        b.add_at(tenant_id, &PERIODS, "users_new", now);
    }
    b.take(shard)
}

/// After an approval: records the number as seen and counts it (see the module's comment).
pub async fn seen<P: Platform>(app: &App<P>, tenant_id: &TenantId, slot: &str, now: i64) {
    let path = marker_path(tenant_id, slot);
    for _ in 0..4 {
        let found = match app.repo().get_seen(&path).await {
            Ok(f) => f,
            Err(e) => return warn(app, &e),
        };
        let version = found.as_ref().map(|d| d.update_time.clone());
        let (active, new, marker) = on_verified(found.map(|d| d.value), now);
        let Some(marker) = marker else { return };
        let counts = increments(tenant_id, &active, new, now, app.random_below(SHARDS));
        match app
            .repo()
            .save_seen(&path, &marker, version.as_deref(), &counts)
            .await
        {
            Ok(()) => return,
            // Another isolate wrote the marker since the read: read again.
            Err(
                StoreError::AlreadyExists
                | StoreError::PreconditionFailed(_)
                | StoreError::Aborted(_),
            ) => continue,
            Err(e) => return warn(app, &e),
        }
    }
}

fn warn<P: Platform>(app: &App<P>, e: &StoreError) {
    app.platform.log(
        &serde_json::json!({"level": "warn", "event": "end_user_not_counted", "error": e.to_string()})
            .to_string(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::parse_iso8601;

    fn at(s: &str) -> i64 {
        parse_iso8601(s).unwrap()
    }

    #[test]
    fn a_first_verification_is_new_and_active_in_every_period() {
        let now = at("2026-11-25T10:00:00Z");
        let (active, new, marker) = on_verified(None, now);
        assert_eq!(active, PERIODS.to_vec());
        assert!(new);
        assert_eq!(
            marker,
            Some(Seen {
                first_ms: now,
                last_ms: now
            })
        );
        let docs = increments(&"t1".into(), &active, new, now, 2);
        let doc = |p: &str| docs.iter().find(|(d, _)| d == p).unwrap().1.clone();
        let both = vec![
            ("users_active".to_string(), 1),
            ("users_new".to_string(), 1),
        ];
        assert_eq!(doc("counters/t1_D20261125_2"), both);
        assert_eq!(doc("counters/t1_W2026W48_2"), both);
        assert_eq!(doc("counters/_all_M202611_2"), both);
        // Tenant and total, three periods each; no hour document.
        assert_eq!(docs.len(), 6);
    }

    #[test]
    fn a_returning_number_counts_once_per_period_and_never_as_new() {
        let first = at("2026-11-23T08:00:00Z"); // Monday, week 48
        let seen = Seen {
            first_ms: first,
            last_ms: first,
        };
        // Same day: nothing changes, nothing is written.
        assert_eq!(
            on_verified(Some(seen), first + 3_600_000),
            (vec![], false, None)
        );
        // Wednesday of the same week and month: active that day only.
        let wed = at("2026-11-25T09:00:00Z");
        let (active, new, marker) = on_verified(Some(seen), wed);
        assert_eq!(active, vec![Granularity::Day]);
        assert!(!new);
        assert_eq!(
            marker.unwrap(),
            Seen {
                first_ms: first,
                last_ms: wed
            }
        );
        // Next Tuesday (week 49, December): a new day, week and month.
        let (active, _, _) = on_verified(Some(seen), at("2026-12-01T09:00:00Z"));
        assert_eq!(active, PERIODS.to_vec());
        // Monday of week 49, still November: day and week.
        let (active, _, _) = on_verified(Some(seen), at("2026-11-30T09:00:00Z"));
        assert_eq!(active, vec![Granularity::Day, Granularity::Week]);
        // An isolate whose clock is behind the marker changes nothing.
        assert_eq!(
            on_verified(
                Some(Seen {
                    first_ms: wed,
                    last_ms: wed
                }),
                first
            )
            .2,
            None
        );
    }
}
