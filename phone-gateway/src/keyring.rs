//! The gateway's keys: the current one, and after a key change pushed by the edge the previous
//! one for `KEY_GRACE_SECS` (other edge isolates may still sign with it, and the edge may not
//! have seen the phone's answer). Requests are checked against both; callbacks are signed with
//! the current key only.

use otp_shared::enrol::KEY_GRACE_SECS;
use otp_shared::wire::{Keys, WeakSecret};
use sha2::{Digest, Sha256};
use std::sync::RwLock;

struct Ring {
    current: Keys,
    /// SHA-256 of the current secret: tells a repeated key change from a new one.
    current_sha: [u8; 32],
    previous: Option<(Keys, u64)>,
}

pub struct KeyRing {
    ring: RwLock<Ring>,
}

fn sha(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.trim().as_bytes()).into()
}

impl KeyRing {
    pub fn new(secret: &str) -> Result<KeyRing, WeakSecret> {
        Ok(KeyRing {
            ring: RwLock::new(Ring {
                current: Keys::from_secret(secret)?,
                current_sha: sha(secret),
                previous: None,
            }),
        })
    }

    /// The key callbacks and new requests are signed with.
    pub fn current(&self) -> Keys {
        self.ring.read().expect("key ring").current.clone()
    }

    /// The keys a request may be signed with at `now` (unix seconds), current first.
    pub fn accepted(&self, now: u64) -> Vec<Keys> {
        let r = self.ring.read().expect("key ring");
        let mut keys = vec![r.current.clone()];
        if let Some((k, until)) = &r.previous {
            if *until > now {
                keys.push(k.clone());
            }
        }
        keys
    }

    /// Whether `secret` is the current secret already.
    pub fn is_current(&self, secret: &str) -> bool {
        self.ring.read().expect("key ring").current_sha == sha(secret)
    }

    /// Makes `secret` current; the old key stays accepted for the grace period.
    pub fn change(&self, secret: &str, now: u64) -> Result<(), WeakSecret> {
        let keys = Keys::from_secret(secret)?;
        let mut r = self.ring.write().expect("key ring");
        let old = std::mem::replace(&mut r.current, keys);
        r.current_sha = sha(secret);
        r.previous = Some((old, now + KEY_GRACE_SECS));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otp_shared::wire::{self, Route};

    const OLD: &str = "0123456789abcdef0123456789abcdef-old";
    const NEW: &str = "0123456789abcdef0123456789abcdef-new";

    fn signed_by(secret: &str) -> wire::SealedRequest {
        let k = Keys::from_secret(secret).unwrap();
        wire::seal(
            &k,
            Route::new("GET", "/health", "p"),
            100,
            [1; 16],
            [2; 12],
            None,
        )
    }

    fn verifies(ring: &KeyRing, req: &wire::SealedRequest, now: u64) -> bool {
        let header = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        ring.accepted(now).iter().any(|k| {
            wire::verify(
                k,
                Route::new("GET", "/health", "p"),
                header,
                &req.body,
                100,
                300,
            )
            .is_ok()
        })
    }

    #[test]
    fn the_old_key_works_only_for_the_grace_period() {
        let ring = KeyRing::new(OLD).unwrap();
        assert!(ring.is_current(OLD));
        ring.change(NEW, 1_000).unwrap();
        assert!(ring.is_current(NEW) && !ring.is_current(OLD));
        assert!(verifies(&ring, &signed_by(NEW), 1_000));
        assert!(verifies(&ring, &signed_by(OLD), 1_000 + KEY_GRACE_SECS - 1));
        assert!(!verifies(&ring, &signed_by(OLD), 1_000 + KEY_GRACE_SECS));
        assert!(ring.change("short", 1_000).is_err());
    }
}
