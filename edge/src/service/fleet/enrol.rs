//! Phones that enrol themselves, so adding a phone or moving its tunnel needs no redeploy.
//!
//! - An operator creates a one-time token that expires (`create_enrol_token`); only its SHA-256
//!   is stored. The phone presents it once on the public `POST /v1/gateways/enrol` and gets its
//!   id and a fresh secret; the token's update and the phone's creation are one commit guarded
//!   by the token's version, so of two phones racing with one token exactly one is enrolled.
//! - The phone's secret is stored only sealed with the edge's sealing key (`sealing`), bound to
//!   the phone's id.
//! - A phone whose URL changes re-registers it with a request signed by its own key (the wire
//!   signing of the callbacks); its nonce is spent in the same guarded commit, and a
//!   registration older than the last accepted one changes nothing.
//! - Key rotation is pushed by the edge: a new secret is stored as pending first (a retry pushes
//!   the same one), sent inside a request signed and encrypted with the phone's current key, and
//!   made current once the phone's signed answer says it has it. Both sides keep accepting the
//!   previous key for `KEY_GRACE_SECS`; a phone that re-registers with the pending key proves it
//!   has it and completes a rotation whose answer was lost.
//! - A retired phone is taken out of the fleet and its keys are erased.
//!
//! The merged list of phones (configured and enrolled) is `roster`.

use otp_shared::ids::GatewayId;
use std::collections::BTreeMap;

use otp_shared::enrol::{self as proto, EnrolRequest, Enrolled, KeyChange, Registration};
use otp_shared::wire::{self, Keys};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode};
use crate::platform::{new_id, Platform};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::enrolled::{aad, keys_of, link_of, open_secret};
pub use crate::service::fleet::enrolled::{EnrolToken, EnrolledPhone, PhoneStatus};
use crate::service::fleet::roster;
use crate::service::ops::audit;
use crate::service::repo::enrolment as repo;
use crate::service::repo::upkeep::nonce_write;
use crate::service::sealing;
use crate::service::tenants::auth;
use crate::store::StoreError;

/// A token's lifetime unless the operator asks for another.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 3_600;
pub const MAX_TOKEN_TTL_SECS: u64 = 7 * 24 * 3_600;

pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// Hex digits of a token's hash that name it to operators (the list, the audit log, revocation):
/// enough to tell tokens apart, and the hash reveals nothing of the token.
pub const TOKEN_ID_LEN: usize = 12;

/// How the operators name the token whose hash is `token_sha256`.
pub fn token_id(token_sha256: &str) -> &str {
    token_sha256.get(..TOKEN_ID_LEN).unwrap_or(token_sha256)
}

/// Whether a stored token may enrol a phone now.
pub fn token_usable(t: &EnrolToken, now_ms: i64) -> Result<(), ErrorCode> {
    if t.revoked_at.is_some() {
        return Err(ErrorCode::EnrolTokenRevoked);
    }
    if t.used_at.is_some() {
        return Err(ErrorCode::EnrolTokenUsed);
    }
    if t.expires_at <= now_ms {
        return Err(ErrorCode::EnrolTokenExpired);
    }
    Ok(())
}

/// The SIM numbers a phone may declare: `"default"` or a slot 0-7, E.164 numbers (as `GATEWAYS`).
pub fn numbers_ok(numbers: &BTreeMap<String, String>) -> Result<(), Error> {
    for (sim, number) in numbers {
        let sim_ok = sim == "default" || sim.parse::<u8>().is_ok_and(|s| s <= 7);
        let canonical = otp_shared::phone::Phone::parse(number).is_ok_and(|p| p.as_str() == number);
        if !sim_ok || !canonical || numbers.len() > otp_shared::enrol::MAX_NUMBERS {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "numbers: keys are \"default\" or a SIM slot 0-7, values E.164 numbers",
            ));
        }
    }
    Ok(())
}

fn url_checked(url: &str) -> Result<String, Error> {
    let url = url.trim().trim_end_matches('/');
    if !proto::url_ok(url) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "url must be the phone's http(s) URL (no spaces or credentials, at most 300 characters)",
        ));
    }
    Ok(url.to_string())
}

fn version_checked(v: &str) -> String {
    v.chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-+_".contains(*c))
        .take(40)
        .collect()
}

/// Seals a phone's secret for the store, bound to its id (a sealed key cannot be moved to
/// another phone's record).
fn seal_secret<P: Platform>(app: &App<P>, id: &str, secret: &str) -> String {
    let mut nonce = [0u8; 12];
    app.platform.fill_random(&mut nonce);
    sealing::seal(&app.secrets.seal, &aad(id), nonce, secret)
}

fn random_text<P: Platform>(p: &P) -> String {
    let mut b = [0u8; 32];
    p.fill_random(&mut b);
    wire::b64url(&b)
}

fn configured<P: Platform>(app: &App<P>, id: &str) -> bool {
    app.configured_gateways.iter().any(|g| g.cfg.id == id)
}

/// A new one-time token (returned once, stored hashed).
pub async fn create_enrol_token<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    actor: &str,
    gateway_id: Option<GatewayId>,
    label: String,
    ttl_secs: Option<u64>,
) -> Result<(String, EnrolToken), Error> {
    let ttl = ttl_secs.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    if !(60..=MAX_TOKEN_TTL_SECS).contains(&ttl) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            format!("ttl_secs must be between 60 and {MAX_TOKEN_TTL_SECS}"),
        ));
    }
    if label.chars().count() > 100 {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "label must be at most 100 characters",
        ));
    }
    if let Some(id) = &gateway_id {
        if !otp_shared::ids::is_plain_id(id) || id.len() > 40 {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "gateway_id must be 1-40 letters, digits, '_' or '-'",
            ));
        }
        if configured(app, id) {
            return Err(Error::new(ErrorCode::GatewayConfigured));
        }
        if let Some(d) = app.repo().get_enrolled(id).await? {
            if d.value.status == PhoneStatus::Active {
                return Err(Error::msg(
                    ErrorCode::Conflict,
                    "A phone with this id is enrolled; retire it first",
                ));
            }
        }
    }
    let token = format!("{}{}", proto::TOKEN_PREFIX, random_text(&app.platform));
    let record = EnrolToken {
        gateway_id,
        label,
        created_at: ctx.now_ms,
        expires_at: ctx.now_ms + ttl as i64 * 1000,
        created_by: actor.to_string(),
        ..Default::default()
    };
    let sha = token_sha256(&token);
    app.repo()
        .commit(vec![repo::token_create(&sha, &record)])
        .await?;
    audit::audit(
        app,
        ctx,
        actor,
        "gateway.enrol_token",
        token_id(&sha),
        json!({"gateway_id": record.gateway_id, "expires_at": record.expires_at}),
    )
    .await;
    Ok((token, record))
}

/// `open`, `used`, `expired` or `revoked`, as the operators' list shows a token.
pub fn token_state(t: &EnrolToken, now_ms: i64) -> &'static str {
    match token_usable(t, now_ms) {
        Ok(()) => "open",
        Err(ErrorCode::EnrolTokenUsed) => "used",
        Err(ErrorCode::EnrolTokenRevoked) => "revoked",
        Err(_) => "expired",
    }
}

/// The tokens, each by its [`token_id`], with its state.
pub async fn list_enrol_tokens<P: Platform>(
    app: &App<P>,
    now_ms: i64,
) -> Result<Vec<Value>, Error> {
    let docs = app.repo().enrol_tokens().await?;
    Ok(docs
        .into_iter()
        .map(|d| {
            let id = token_id(d.id()).to_string();
            let t = d.value;
            json!({"id": id, "state": token_state(&t, now_ms), "gateway_id": t.gateway_id,
                   "label": t.label, "created_at": t.created_at, "expires_at": t.expires_at,
                   "used_at": t.used_at, "enrolled": t.enrolled, "revoked_at": t.revoked_at})
        })
        .collect())
}

/// A token named by an operator: its [`token_id`], or more digits of its hash.
fn token_id_checked(id: &str) -> Result<&str, Error> {
    let hex = id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !(TOKEN_ID_LEN..=64).contains(&id.len()) || !hex {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "id: the first 12 (or more) hex digits of the token's hash, as GET /v1/admin/gateways/enrolments lists it",
        ));
    }
    Ok(id)
}

/// Times a revocation reads the token again after another change won the race.
const REVOKE_TRIES: usize = 3;

/// Revokes a token no phone has used: from then on it enrols nothing (410
/// `enrol_token_revoked`). The change is guarded by the version read, as the enrolment's is, so
/// of a revocation and an enrolment racing with one token exactly one takes effect. Revoking a
/// revoked token changes nothing; a used one is a conflict (retire the phone instead).
pub async fn revoke_enrol_token<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    actor: &str,
    id: &str,
) -> Result<EnrolToken, Error> {
    let id = token_id_checked(id)?;
    for _ in 0..REVOKE_TRIES {
        let mut found = app.repo().enrol_tokens_by_prefix(id, 2).await?;
        let doc = match (found.pop(), found.pop()) {
            (Some(d), None) => d,
            (None, _) => {
                return Err(Error::msg(
                    ErrorCode::NotFound,
                    "No enrolment token has this id",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(Error::msg(
                    ErrorCode::ValidationFailed,
                    "Two tokens start with this id: give more digits of the hash",
                ))
            }
        };
        let sha = doc.id().to_string();
        let mut token = doc.value;
        match token_usable(&token, ctx.now_ms) {
            Err(ErrorCode::EnrolTokenRevoked) => return Ok(token),
            Err(ErrorCode::EnrolTokenUsed) => {
                return Err(Error::msg(
                    ErrorCode::Conflict,
                    "A phone has used this token; retire the phone instead",
                ))
            }
            // An expired token is revoked too, so the list says what the operator did.
            _ => {}
        }
        token.revoked_at = Some(ctx.now_ms);
        token.revoked_by = Some(actor.to_string());
        match app
            .repo()
            .commit(vec![repo::token_update(&sha, &token, &doc.update_time)])
            .await
        {
            Ok(_) => {
                audit::audit(
                    app,
                    ctx,
                    actor,
                    "gateway.enrol_token_revoke",
                    token_id(&sha),
                    json!({"label": token.label, "gateway_id": token.gateway_id}),
                )
                .await;
                return Ok(token);
            }
            Err(StoreError::PreconditionFailed(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::new(ErrorCode::Conflict))
}

/// A phone presents its token: one commit spends the token and creates the phone.
pub async fn enrol<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    req: EnrolRequest,
) -> Result<Enrolled, Error> {
    let url = match req.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => url_checked(u)?,
        None => String::new(),
    };
    numbers_ok(&req.numbers)?;
    let sha = token_sha256(&req.token);
    let invalid = || Error::new(ErrorCode::EnrolTokenInvalid);
    if !req.token.trim().starts_with(proto::TOKEN_PREFIX) || req.token.len() > 200 {
        auth::note_auth_failure(app, ctx).await;
        return Err(invalid());
    }
    // Guessing tokens costs a failed attempt from this address, like guessing keys.
    auth::check_auth_failures(app, ctx).await?;
    let Some(doc) = app.repo().get_enrol_token(&sha).await? else {
        auth::note_auth_failure(app, ctx).await;
        return Err(invalid());
    };
    let mut token = doc.value;
    token_usable(&token, ctx.now_ms).map_err(Error::new)?;
    let id = token
        .gateway_id
        .clone()
        .unwrap_or_else(|| new_id(&app.platform, "ph").into());
    if configured(app, &id) {
        return Err(Error::new(ErrorCode::GatewayConfigured));
    }
    let secret = random_text(&app.platform);
    let phone = EnrolledPhone {
        id: id.clone(),
        label: token.label.clone(),
        url,
        numbers: req.numbers,
        status: PhoneStatus::Active,
        key_sealed: seal_secret(app, &id, &secret),
        version: version_checked(&req.version),
        enrolled_at: ctx.now_ms,
        ..Default::default()
    };
    token.used_at = Some(ctx.now_ms);
    token.enrolled = Some(id.clone());
    let mut writes = vec![repo::token_update(&sha, &token, &doc.update_time)];
    // A retired phone's id may be enrolled again (its record is replaced); an active one not.
    match app.repo().get_enrolled(&id).await? {
        None => writes.push(repo::phone_create(&phone)),
        Some(d) if d.value.status == PhoneStatus::Retired => {
            writes.push(repo::phone_update(&phone, &d.update_time))
        }
        Some(_) => {
            return Err(Error::msg(
                ErrorCode::Conflict,
                "A phone with this id is enrolled; retire it first",
            ))
        }
    }
    match app.repo().commit(writes).await {
        Ok(_) => {}
        // Someone else spent the token, an operator revoked it (or the id was taken) between the
        // read and the commit: say which.
        Err(StoreError::PreconditionFailed(_) | StoreError::AlreadyExists) => {
            let now = app.repo().get_enrol_token(&sha).await?;
            return Err(match now.map(|d| token_usable(&d.value, ctx.now_ms)) {
                Some(Err(code)) => Error::new(code),
                _ => Error::new(ErrorCode::Conflict),
            });
        }
        Err(e) => return Err(e.into()),
    }
    roster::forget_roster(app);
    audit::audit(
        app,
        ctx,
        "enrolment",
        "gateway.enrol",
        &id,
        json!({"token": token_id(&sha), "url": phone.url, "version": phone.version}),
    )
    .await;
    Ok(Enrolled {
        gateway_id: id.into(),
        secret,
    })
}

/// A phone's signed re-registration. `header` reads the request's headers; `body` is the
/// sealed body. Refused (nothing changed) unless signed by that phone's key.
pub async fn register_phone<'h, P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    path: &str,
) -> Result<EnrolledPhone, Error> {
    let refused = |why: &str| {
        Error::msg(
            ErrorCode::Unauthorized,
            format!("Gateway request refused: {why}"),
        )
    };
    let id: GatewayId = header(wire::HEADER_GATEWAY)
        .ok_or_else(|| refused("unsigned"))?
        .into();
    if !otp_shared::ids::is_plain_id(&id) {
        return Err(refused("unknown gateway"));
    }
    if configured(app, &id) {
        return Err(Error::new(ErrorCode::GatewayConfigured));
    }
    let doc = app
        .repo()
        .get_enrolled(&id)
        .await?
        .ok_or_else(|| refused("unknown gateway"))?;
    let mut phone = doc.value;
    if phone.status == PhoneStatus::Retired {
        return Err(Error::new(ErrorCode::GatewayRetired));
    }
    let keys = keys_of(&app.secrets, &phone, ctx.now_ms);
    let now_s = (ctx.now_ms / 1000) as u64;
    let route = wire::Route::new("POST", path, &id);
    let try_with = |k: &Option<Keys>| {
        k.as_ref().map(|k| {
            wire::verify(k, route, &header, body, now_s, wire::DEFAULT_WINDOW_SECS)
                .and_then(|v| Ok((v.open()?, v.nonce, v.timestamp)))
        })
    };
    let mut promoted = false;
    let mut outcome = try_with(&keys.current);
    if !matches!(outcome, Some(Ok(_))) {
        if let Some(Ok(found)) = try_with(&keys.pending) {
            promoted = true;
            outcome = Some(Ok(found));
        } else if let Some(Ok(found)) = try_with(&keys.previous) {
            outcome = Some(Ok(found));
        }
    }
    let (plain, nonce, ts) = match outcome {
        Some(Ok(found)) => found,
        Some(Err(e)) => return Err(refused(e.code())),
        None => return Err(refused("gateway key unusable")),
    };
    let reg: Registration = serde_json::from_slice(plain.as_deref().unwrap_or(b""))
        .map_err(|e| Error::msg(ErrorCode::BadJson, e.to_string()))?;
    let url = url_checked(&reg.url)?;
    if let Some(n) = &reg.numbers {
        numbers_ok(n)?;
    }
    if ts < phone.registered_at {
        return Err(Error::msg(
            ErrorCode::Conflict,
            "A newer registration of this phone was accepted already",
        ));
    }
    phone.url = url;
    phone.registered_at = ts;
    if !reg.version.is_empty() {
        phone.version = version_checked(&reg.version);
    }
    if let Some(n) = reg.numbers {
        phone.numbers = n;
    }
    if promoted {
        complete_rotation(&mut phone, ctx.now_ms);
    }
    let writes = vec![
        nonce_write(&hex::encode(Sha256::digest(nonce.as_bytes())), ctx.now_ms),
        repo::phone_update(&phone, &doc.update_time),
    ];
    match app.repo().commit(writes).await {
        Ok(_) => {}
        Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => {
            return Err(refused("replayed_nonce or a concurrent change; retry"))
        }
        Err(e) => return Err(e.into()),
    }
    roster::forget_roster(app);
    Ok(phone)
}

/// The enrolled phone `id` as stored, for an operator's change: a configured phone
/// (`GATEWAYS`) or a retired one is refused.
async fn active_enrolled<P: Platform>(
    app: &App<P>,
    id: &str,
) -> Result<crate::store::Doc<EnrolledPhone>, Error> {
    if configured(app, id) {
        return Err(Error::new(ErrorCode::GatewayConfigured));
    }
    let doc = app
        .repo()
        .get_enrolled(&GatewayId::from(id))
        .await?
        .ok_or_else(|| Error::new(ErrorCode::GatewayNotFound))?;
    if doc.value.status == PhoneStatus::Retired {
        return Err(Error::new(ErrorCode::GatewayRetired));
    }
    Ok(doc)
}

/// Takes a phone out of the fleet for good and erases its keys.
pub async fn retire_phone<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    actor: &str,
    id: &str,
) -> Result<(), Error> {
    let doc = active_enrolled(app, id).await?;
    let mut phone = doc.value;
    phone.status = PhoneStatus::Retired;
    phone.retired_at = Some(ctx.now_ms);
    phone.key_sealed.clear();
    phone.pending_key_sealed = None;
    phone.previous_key_sealed = None;
    app.repo()
        .commit(vec![repo::phone_update(&phone, &doc.update_time)])
        .await?;
    roster::forget_roster(app);
    audit::audit(app, ctx, actor, "gateway.retire", id, Value::Null).await;
    Ok(())
}

/// Gives a phone a new key (see the module header for the protocol). Safe to repeat after
/// an error: the same pending key is pushed again.
pub async fn rotate_phone_key<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    actor: &str,
    id: &str,
) -> Result<(), Error> {
    let doc = active_enrolled(app, id).await?;
    let (mut phone, mut version) = (doc.value, doc.update_time);
    let unavailable = |why: String| {
        Error::msg(
            ErrorCode::GatewayUnavailable,
            "The phone did not confirm its new key; nothing changed on the edge, retry",
        )
        .cause(why)
    };
    let link = link_of(&app.secrets, &phone, ctx.now_ms)
        .ok_or_else(|| unavailable("the phone has no URL yet".into()))?;
    let new_secret = match phone
        .pending_key_sealed
        .as_deref()
        .and_then(|s| open_secret(&app.secrets, id, s))
    {
        Some(s) => s,
        None => {
            let secret = random_text(&app.platform);
            phone.pending_key_sealed = Some(seal_secret(app, id, &secret));
            let times = app
                .repo()
                .commit(vec![repo::phone_update(&phone, &version)])
                .await?;
            version = times.into_iter().next().unwrap_or_default();
            secret
        }
    };
    let keys = link.keys.as_ref().expect("link_of gives keys");
    let (status, _) = crate::service::fleet::gateway::signed_exchange(
        &app.platform,
        &link.cfg,
        keys,
        app.cfg.gateway_timeout_ms,
        ("POST", proto::PATH_KEY),
        Some(&KeyChange { secret: new_secret }),
        &ctx.request_id,
    )
    .await
    .map_err(unavailable)?;
    if !(200..300).contains(&status) {
        return Err(unavailable(format!("http {status}")));
    }
    complete_rotation(&mut phone, ctx.now_ms);
    app.repo()
        .commit(vec![repo::phone_update(&phone, &version)])
        .await?;
    roster::forget_roster(app);
    audit::audit(app, ctx, actor, "gateway.rotate_key", id, Value::Null).await;
    Ok(())
}

/// The enrolled phones for operators (never a key).
pub async fn enrolled_view<P: Platform>(app: &App<P>) -> Result<Vec<Value>, Error> {
    let now = app.platform.now_ms();
    Ok(app
        .repo()
        .enrolled_phones()
        .await?
        .into_iter()
        .map(|p| {
            json!({"id": p.id, "label": p.label, "url": p.url, "numbers": p.numbers,
                   "status": p.status, "version": p.version, "enrolled_at": p.enrolled_at,
                   "registered_at": p.registered_at, "key_rotated_at": p.key_rotated_at,
                   "rotation_pending": p.pending_key_sealed.is_some(),
                   "previous_key_valid": p.previous_key_sealed.is_some() && p.previous_until > now,
                   "retired_at": p.retired_at})
        })
        .collect())
}

/// The pending key becomes current; the current one stays valid for the grace period.
fn complete_rotation(phone: &mut EnrolledPhone, now_ms: i64) {
    if let Some(pending) = phone.pending_key_sealed.take() {
        phone.previous_key_sealed = Some(std::mem::replace(&mut phone.key_sealed, pending));
        phone.previous_until = now_ms + proto::KEY_GRACE_SECS as i64 * 1000;
        phone.key_rotated_at = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_enrols_once_and_only_before_it_expires() {
        let t = EnrolToken {
            expires_at: 1_000,
            ..Default::default()
        };
        assert_eq!(token_usable(&t, 999), Ok(()));
        assert_eq!(token_usable(&t, 1_000), Err(ErrorCode::EnrolTokenExpired));
        let used = EnrolToken {
            used_at: Some(5),
            ..t.clone()
        };
        assert_eq!(token_usable(&used, 10), Err(ErrorCode::EnrolTokenUsed));
        assert_eq!(token_state(&used, 10), "used");
        let revoked = EnrolToken {
            revoked_at: Some(7),
            ..Default::default()
        };
        assert_eq!(token_usable(&revoked, 0), Err(ErrorCode::EnrolTokenRevoked));
        assert_eq!(token_state(&revoked, 0), "revoked");
        assert_eq!(token_state(&t, 999), "open");
        assert_eq!(token_state(&t, 1_000), "expired");
    }

    #[test]
    fn a_token_is_named_by_at_least_12_hex_digits_of_its_hash() {
        assert!(token_id_checked("0123456789ab").is_ok());
        let sha = token_sha256("otp_et_x");
        assert!(token_id_checked(&sha).is_ok());
        assert_eq!(token_id(&sha), &sha[..12]);
        assert!(token_id_checked(token_id(&sha)).is_ok());
        for bad in ["0123456789a", "0123456789AB", "0123456789ag", "../x", ""] {
            assert!(token_id_checked(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_stored_by_hash() {
        let h = token_sha256("otp_et_abc");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("abc"));
        assert_eq!(h, token_sha256(" otp_et_abc\n"));
    }

    #[test]
    fn a_rotation_keeps_the_old_key_for_the_grace_period() {
        let mut p = EnrolledPhone {
            key_sealed: "old".into(),
            pending_key_sealed: Some("new".into()),
            ..Default::default()
        };
        complete_rotation(&mut p, 1_000);
        assert_eq!(p.key_sealed, "new");
        assert_eq!(p.previous_key_sealed.as_deref(), Some("old"));
        assert_eq!(
            p.previous_until,
            1_000 + proto::KEY_GRACE_SECS as i64 * 1000
        );
        assert!(p.pending_key_sealed.is_none());
        // nothing pending: nothing changes
        complete_rotation(&mut p, 2_000);
        assert_eq!(p.key_sealed, "new");
        assert_eq!(
            p.previous_until,
            1_000 + proto::KEY_GRACE_SECS as i64 * 1000
        );
    }

    #[test]
    fn numbers_are_checked_like_gateways() {
        let mut n = BTreeMap::new();
        n.insert("0".to_string(), "+14155550101".to_string());
        assert!(numbers_ok(&n).is_ok());
        n.insert("9".to_string(), "+14155550102".to_string());
        assert!(numbers_ok(&n).is_err());
        let mut bad = BTreeMap::new();
        bad.insert("default".to_string(), "0415 555".to_string());
        assert!(numbers_ok(&bad).is_err());
    }
}
