//! Reverse verification (`channel: reverse`): instead of texting a code, the service answers with
//! a pool number (a number of one of its phones) and a few words; the user texts those words from
//! the phone being verified to that number, and the inbound SMS approves the verification.
//! Nothing is sent by the pool, so nothing costs the operator and nothing can be pumped.
//!
//! The words are kept hashed only: on the verification (`code_hmac`, bound to its id, as a code)
//! and in the key of a pointer document (`repo::reverse`) that a keyed hash of the receiving
//! phone, the sender and the normalised words names. An inbound SMS computes that key; any other
//! phone, sender or text finds nothing. The approval is one commit guarded by the version read
//! of the verification, which also deletes the pointer (so a replayed text approves nothing) and
//! records the inbound SMS (so a repeated forward changes nothing).
//!
//! A phone's inbox does not say which of its SIMs received a text: the words approve when they
//! arrive at the phone that owns the pool number, through any of its SIMs, and at no other phone.

use otp_shared::ids::GatewayId;
use otp_shared::otp::{self as rules, CodeType};
use otp_shared::phone::Phone;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode};
use crate::platform::{Platform, PlatformRng};
use crate::service::abuse::destination;
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::fleet::{roster, standing};
use crate::service::model::{
    CodeKind, FailureWindow, ReverseTarget, Tenant, VerificationRecord, VerificationStatus,
};
use crate::service::ops::analytics::Event;
use crate::service::ops::webhooks::events::Event as Hook;
use crate::service::ops::webhooks::targets;
use crate::service::repo;
use crate::service::repo::reverse::ReverseRecord;
use crate::service::secrets::base32;
use crate::service::tenants::admission;
use crate::store::Write;

/// Fewest words the user texts: two words from the list are over 20 bits, and a guess must
/// also come from the verified phone's own number.
const MIN_WORDS: u8 = 2;

/// A reverse verification just started: the record and the words to text (shown once, never
/// stored in clear).
#[derive(Debug, Clone)]
pub struct Started {
    pub verification: VerificationRecord,
    pub text: String,
}

/// The words as matched: lower case, letters and digits only, so case, spaces and punctuation
/// do not matter ("Forest  river." = "forest-river" = "forestriver").
pub fn normalize(text: &str) -> String {
    rules::normalize(CodeType::Words { count: 1 }, text).replace(' ', "")
}

/// The pointer's key: a keyed hash of the receiving phone, the sender and the words.
pub fn key(hmac_key: &[u8], gateway_id: &GatewayId, sender: &str, text: &str) -> String {
    rules::code_hmac(
        hmac_key,
        &format!("reverse\0{gateway_id}\0{sender}"),
        &normalize(text),
    )
}

/// The pool number for `phone`: a number of a phone that can report inbound SMS (one the edge
/// has keys for), in good standing first (a missed canary may mean its inbox is not read), in
/// the user's own country first (the user pays for the text: a domestic one is cheap and
/// allowed). Among equals the choice is fixed by `pick`, so one user keeps one number.
pub async fn pool_number<P: Platform>(
    app: &App<P>,
    phone: &Phone,
    pick: u64,
) -> Option<ReverseTarget> {
    let roster = roster::roster(app).await;
    let standings = standing::standings(app).await;
    let region = phone.region();
    let mut ranked: Vec<((bool, bool), ReverseTarget)> = roster
        .iter()
        .filter(|g| g.keys.is_some())
        .flat_map(|g| {
            let good = standings.get(&g.cfg.id).is_none_or(|why| why.is_empty());
            g.cfg.numbers.values().filter_map(move |n| {
                let number = Phone::parse(n).ok()?;
                let domestic = region.is_some() && number.region() == region;
                Some((
                    (!good, !domestic),
                    ReverseTarget {
                        gateway_id: g.cfg.id.clone(),
                        number: number.as_str().to_string(),
                    },
                ))
            })
        })
        .collect();
    ranked.sort_by_key(|r| r.0);
    let best = ranked.first()?.0;
    let equals: Vec<_> = ranked.into_iter().filter(|r| r.0 == best).collect();
    let at = (pick % equals.len() as u64) as usize;
    equals.into_iter().nth(at).map(|r| r.1)
}

/// Starts a reverse verification of `phone`: replaces the tenant's live verification of that
/// phone, as a send does, and counts against the same per-phone send window (no quota: nothing
/// is sent).
pub async fn start<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    phone: &Phone,
    first: &FirstCommit<'_>,
) -> Result<Started, Error> {
    destination::check_destination(app, tenant, phone).await?;
    let slot = app.secrets.verification_slot(&tenant.id, phone.as_str());
    let pick = u64::from_be_bytes(Sha256::digest(slot.as_bytes())[..8].try_into().unwrap());
    let target = pool_number(app, phone, pick).await.ok_or_else(|| {
        Error::msg(
            ErrorCode::ReverseUnavailable,
            "No phone of the pool has a number that receives SMS; use the sms channel",
        )
    })?;
    admission::admit(
        app,
        ctx,
        tenant,
        vec![super::send_window(app, tenant, phone.as_str())],
        false,
    )
    .await?;
    let s = &tenant.settings;
    let count = s.word_count.max(MIN_WORDS);
    let text = rules::generate(CodeType::Words { count }, &mut PlatformRng(&app.platform));
    let mut tail = [0u8; 4];
    app.platform.fill_random(&mut tail);
    let id = format!("ver_{slot}{}", &base32(&tail)[..6]);
    let expires_at = ctx.now_ms + s.ttl_secs as i64 * 1000;
    let v = VerificationRecord {
        code_hmac: rules::code_hmac(&app.secrets.code_hmac, &id, &normalize(&text)),
        // Nothing to send again: the words are not kept, not even sealed.
        code_sealed: String::new(),
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        phone: phone.as_str().to_string(),
        code_kind: CodeKind::Words,
        status: VerificationStatus::Pending,
        checks: 0,
        max_checks: s.max_checks,
        sends: 0,
        created_at: ctx.now_ms,
        expires_at,
        verified_at: 0,
        message_ids: Vec::new(),
        request_id: ctx.request_id.clone(),
        phone_failures: FailureWindow::default(),
        end_user: ctx.end_user().map(|u| u.watched(&app.secrets).key),
        reverse: Some(target.clone()),
    };
    let pointer = ReverseRecord {
        tenant_id: tenant.id.clone(),
        slot: slot.clone(),
        verification_id: id,
        expires_at,
    };
    let k = key(
        &app.secrets.code_hmac,
        &target.gateway_id,
        phone.as_str(),
        &text,
    );
    let mut writes = vec![
        repo::verifications::start_write(&slot, &v),
        repo::reverse::create_write(&k, &pointer),
    ];
    writes.extend(first.claim_write());
    app.repo().commit(writes).await?;
    first.landed();
    ctx.count(&tenant.id, Event::OtpSent);
    Ok(Started {
        verification: v,
        text,
    })
}

/// What an inbound SMS approves, ready to ride in the commit that stores the SMS.
pub struct Approval {
    pub verification: VerificationRecord,
    /// The verification guarded by its version, the pointer consumed, the webhooks queued.
    pub writes: Vec<Write>,
    pub hook_ids: Vec<String>,
}

/// The reverse verification an SMS from `sender` to phone `gateway_id` with `text` approves, if
/// any: the pointer its key names, still pointing at the live, pending, unexpired verification
/// of that sender whose pool phone is this one and whose words hash the same.
pub async fn approval_for<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    sender: &Phone,
    text: &str,
) -> Result<Option<Approval>, Error> {
    if normalize(text).is_empty() {
        return Ok(None);
    }
    let k = key(&app.secrets.code_hmac, gateway_id, sender.as_str(), text);
    let Some(p) = app.repo().get_reverse(&k).await? else {
        return Ok(None);
    };
    if p.expires_at <= ctx.now_ms {
        return Ok(None);
    }
    let Some((mut v, version)) = app.repo().get_verification(&p.slot).await? else {
        return Ok(None);
    };
    let live = v.id == p.verification_id
        && v.tenant_id == p.tenant_id
        && v.phone == sender.as_str()
        && v.status == VerificationStatus::Pending
        && v.expires_at > ctx.now_ms
        && v.reverse
            .as_ref()
            .is_some_and(|r| r.gateway_id == *gateway_id)
        && rules::hmac_matches(
            &app.secrets.code_hmac,
            &v.id,
            &normalize(text),
            &v.code_hmac,
        );
    if !live {
        return Ok(None);
    }
    v.checks += 1;
    v.status = VerificationStatus::Approved;
    v.verified_at = ctx.now_ms;
    let events: Vec<_> = Hook::for_verification(&v, ctx.now_ms).into_iter().collect();
    let (hooks, hook_ids) = targets::webhook_writes_for(app, &v.tenant_id, &events).await?;
    let mut writes = vec![
        repo::verifications::update_write(&p.slot, &v, &version),
        repo::reverse::consume_write(&k),
    ];
    writes.extend(hooks);
    Ok(Some(Approval {
        verification: v,
        writes,
        hook_ids,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_whatever_the_case_spaces_and_punctuation() {
        for t in [
            "forest river",
            "Forest  River",
            " FOREST\nriver. ",
            "forest-river!",
            "forestriver",
        ] {
            assert_eq!(normalize(t), "forestriver", "{t:?}");
        }
        assert_eq!(normalize(" .! "), "");
        let k = key(b"k", &"phone-1".into(), "+14155550123", "Forest river");
        assert_eq!(
            k,
            key(b"k", &"phone-1".into(), "+14155550123", "forest RIVER.")
        );
        assert_ne!(
            k,
            key(b"k", &"phone-2".into(), "+14155550123", "forest river")
        );
        assert_ne!(
            k,
            key(b"k", &"phone-1".into(), "+14155550124", "forest river")
        );
        assert_ne!(
            k,
            key(b"k", &"phone-1".into(), "+14155550123", "forest rivers")
        );
        assert_ne!(
            k,
            key(b"other", &"phone-1".into(), "+14155550123", "forest river")
        );
        assert!(!k.contains("forest"));
    }
}
