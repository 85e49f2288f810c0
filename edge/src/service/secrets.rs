//! Keys derived from the server secret, once per isolate: HKDF-SHA256 (one extract, one labelled
//! expand per use), so the code HMAC, the sealing cipher and the verification slots never share a
//! key and a leak of one says nothing about the others.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use otp_shared::ids::TenantId;
use sha2::{Digest, Sha256};

pub struct Secrets {
    /// HMAC key for stored codes.
    pub code_hmac: [u8; 32],
    /// ChaCha20-Poly1305 key for sealed codes and stored idempotent answers.
    pub seal: [u8; 32],
    /// HMAC key that names a (tenant, phone)'s verification document without revealing the number.
    slot: [u8; 32],
    /// SHA-256 of the bootstrap admin key, if one is configured.
    pub bootstrap_admin_sha256: Option<String>,
}

impl Secrets {
    pub fn derive(server_secret: &str, bootstrap_admin_key: Option<&str>) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"otp-sms/v2"), server_secret.as_bytes());
        let expand = |label: &[u8]| {
            let mut out = [0u8; 32];
            hk.expand(label, &mut out)
                .expect("32 bytes is a valid HKDF-SHA256 length");
            out
        };
        Secrets {
            code_hmac: expand(b"code-hmac"),
            seal: expand(b"seal"),
            slot: expand(b"verification-slot"),
            bootstrap_admin_sha256: bootstrap_admin_key
                .map(|k| hex::encode(Sha256::digest(k.as_bytes()))),
        }
    }

    /// The document id of the live verification of `phone` for `tenant_id`: 20 base32 characters
    /// (100 bits) of a keyed hash, so a phone number cannot be recovered from the store.
    pub fn verification_slot(&self, tenant_id: &TenantId, phone: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.slot).expect("any key length");
        mac.update(tenant_id.as_bytes());
        mac.update(&[0]);
        mac.update(phone.as_bytes());
        base32(&mac.finalize().into_bytes()[..13])[..SLOT_CHARS].to_string()
    }

    /// A keyed hash of a phone number for rate-limit keys and logs (never the number itself).
    pub fn phone_tag(&self, phone: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.slot).expect("any key length");
        mac.update(b"phone-tag\0");
        mac.update(phone.as_bytes());
        base32(&mac.finalize().into_bytes()[..10])
    }

    /// A keyed hash of an end user's address (or IPv6 network), for the fraud guard and the
    /// verification it was sent for: the address itself is never kept.
    pub fn end_user_tag(&self, network: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.slot).expect("any key length");
        mac.update(b"end-user-tag\0");
        mac.update(network.as_bytes());
        base32(&mac.finalize().into_bytes()[..10])
    }
}

pub const SLOT_CHARS: usize = 20;

/// Lower-case Crockford-style base32 without padding (the id alphabet of `platform::new_id`).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_stable() {
        let a = Secrets::derive("a-server-secret-of-32-characters!", None);
        let b = Secrets::derive("a-server-secret-of-32-characters!", None);
        assert_eq!(a.code_hmac, b.code_hmac);
        assert_ne!(a.code_hmac, a.seal);
        assert_ne!(a.seal, a.slot);
        let other = Secrets::derive("another-server-secret-32-chars!!!", None);
        assert_ne!(a.code_hmac, other.code_hmac);
    }

    #[test]
    fn slots_name_a_tenant_and_phone_without_showing_either() {
        let s = Secrets::derive("a-server-secret-of-32-characters!", None);
        let slot = s.verification_slot(&"t_1".into(), "+14155550123");
        assert_eq!(slot.len(), SLOT_CHARS);
        assert!(otp_shared::ids::is_plain_id(&slot));
        assert_eq!(slot, s.verification_slot(&"t_1".into(), "+14155550123"));
        assert_ne!(slot, s.verification_slot(&"t_2".into(), "+14155550123"));
        assert_ne!(slot, s.verification_slot(&"t_1".into(), "+14155550124"));
        assert!(!slot.contains("4155550123"));
    }

    #[test]
    fn base32_packs_five_bits_a_character() {
        assert_eq!(base32(&[0xff; 5]), "zzzzzzzz");
        assert_eq!(base32(&[0]), "00");
    }
}
