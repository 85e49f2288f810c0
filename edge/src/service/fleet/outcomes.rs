//! The exactly-once invariant, checked over the messages of a window: every code (or direct
//! message) accepted ends either sent once, or failed or expired with a reason; never sent twice,
//! never both, never neither. A code is followed through its attempts (`rerouted_to`); a copy made
//! for a move that did not happen (`reroute_of` set, not its predecessor's `rerouted_to`) counts
//! only if it was sent. Exposed in the operators' metrics (`otp_messages_final`,
//! `otp_messages_invariant_violations`) and by `otpctl invariants`.

use std::collections::{BTreeMap, HashMap};

use crate::service::model::{DeliveryState, MessageRecord};

/// How long after its deadline a message may still lack a final state (its phone's report may be
/// on its way, the sweep may not have run) before that is a violation.
pub const SETTLE_MS: i64 = 5 * 60_000;

/// Where each accepted message ended, and what broke the invariant.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcomes {
    /// `sent`, `failed`, `expired`, `pending` (not final yet, within its deadline).
    pub by_outcome: BTreeMap<&'static str, u64>,
    /// `sent_twice`, `failed_without_reason`, `never_final`.
    pub violations: BTreeMap<&'static str, u64>,
    /// Up to 20 first message ids of the codes that broke it.
    pub examples: Vec<String>,
}

impl Outcomes {
    fn violation(&mut self, kind: &'static str, id: &str) {
        *self.violations.entry(kind).or_default() += 1;
        if self.examples.len() < 20 {
            self.examples.push(id.to_string());
        }
    }
}

pub fn check(messages: &[MessageRecord], now_ms: i64) -> Outcomes {
    let by_id: HashMap<&str, &MessageRecord> =
        messages.iter().map(|m| (m.id.as_str(), m)).collect();
    // Copies of moves that did not happen, by the message they would have taken over.
    let mut strays: HashMap<&str, Vec<&MessageRecord>> = HashMap::new();
    for m in messages {
        if let Some(of) = m.reroute_of.as_deref() {
            let linked = by_id
                .get(of)
                .is_some_and(|p| p.rerouted_to.as_deref() == Some(m.id.as_str()));
            if !linked {
                strays.entry(of).or_default().push(m);
            }
        }
    }
    let mut out = Outcomes::default();
    for root in messages.iter().filter(|m| m.reroute_of.is_none()) {
        let mut chain = vec![root];
        while let Some(next) = chain
            .last()
            .and_then(|m| m.rerouted_to.as_deref())
            .and_then(|id| by_id.get(id))
        {
            if chain.len() > 16 || chain.iter().any(|c| c.id == next.id) {
                break;
            }
            chain.push(next);
        }
        let strays_of = chain
            .iter()
            .flat_map(|m| strays.get(m.id.as_str()).into_iter().flatten())
            .copied();
        let sent = chain
            .iter()
            .copied()
            .chain(strays_of)
            .filter(|m| m.state == DeliveryState::Sent)
            .count();
        let last = chain[chain.len() - 1];
        let outcome = match (sent, last.state) {
            (0, DeliveryState::Failed | DeliveryState::Expired)
                if last.error.is_none() && last.failure_class.is_none() =>
            {
                out.violation("failed_without_reason", &root.id);
                "failed"
            }
            (0, DeliveryState::Failed) => "failed",
            (0, DeliveryState::Expired) => "expired",
            (0, _) if last.deadline_ms > 0 && now_ms > last.deadline_ms + SETTLE_MS => {
                out.violation("never_final", &root.id);
                "pending"
            }
            (0, _) => "pending",
            (1, _) => "sent",
            _ => {
                out.violation("sent_twice", &root.id);
                "sent"
            }
        };
        *out.by_outcome.entry(outcome).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use otp_shared::ids::UnixMs;
    use otp_shared::wire::{FailureClass, MessageKind};

    fn msg(id: &str, state: DeliveryState) -> MessageRecord {
        MessageRecord {
            id: id.into(),
            tenant_id: "t".into(),
            kind: MessageKind::Otp,
            phone_masked: "+1415***0000".into(),
            phone_tag: None,
            encoding: "GSM-7".into(),
            segments: 1,
            gateway_id: "phone-1".into(),
            state,
            attempts: 1,
            error: None,
            created_at: UnixMs(0),
            updated_at: UnixMs(0),
            request_id: "r".into(),
            verification_id: None,
            deadline_ms: UnixMs(300_000),
            check_after: UnixMs(0),
            failure_class: None,
            reroute_of: None,
            rerouted_to: None,
            avoid_gateways: Vec::new(),
            channel: None,
            provider: None,
            conv: None,
        }
    }

    fn moved(mut m: MessageRecord, to: &str) -> MessageRecord {
        m.rerouted_to = Some(to.into());
        m.error = Some("stuck: moved to another phone".into());
        m.failure_class = Some(FailureClass::Canceled);
        m
    }

    fn again(mut m: MessageRecord, of: &str) -> MessageRecord {
        m.reroute_of = Some(of.into());
        m
    }

    #[test]
    fn a_code_is_judged_by_all_its_attempts() {
        let mut failed = msg("f", DeliveryState::Failed);
        failed.error = Some("generic_failure".into());
        let mut abandoned = again(msg("x", DeliveryState::Failed), "a");
        abandoned.error = Some("move abandoned".into());
        let all = vec![
            // Sent once after a move; a copy of an abandoned move never went.
            moved(msg("a", DeliveryState::Failed), "b"),
            again(msg("b", DeliveryState::Sent), "a"),
            abandoned,
            failed,
            msg("p", DeliveryState::Queued),
        ];
        let o = check(&all, 1_000);
        assert_eq!(
            o.by_outcome,
            BTreeMap::from([("sent", 1), ("failed", 1), ("pending", 1)])
        );
        assert!(o.violations.is_empty(), "{o:?}");
    }

    #[test]
    fn sent_twice_unexplained_and_never_final_are_violations() {
        let all = vec![
            // The first phone sent it and so did the copy of a move that should not have gone.
            msg("a", DeliveryState::Sent),
            again(msg("b", DeliveryState::Sent), "a"),
            msg("f", DeliveryState::Failed),
            msg("q", DeliveryState::Unknown),
        ];
        let o = check(&all, 300_000 + SETTLE_MS + 1);
        assert_eq!(
            o.violations,
            BTreeMap::from([
                ("sent_twice", 1),
                ("failed_without_reason", 1),
                ("never_final", 1)
            ])
        );
        assert_eq!(o.examples, ["a", "f", "q"]);
    }
}
