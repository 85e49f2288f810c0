//! Sealing short secrets (OTP codes) with a key derived from the server secret (`Secrets::seal`), so a resend can
//! repeat the code while storage holds no clear text. The record id is the associated data, so a
//! sealed value cannot be moved to another record.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

pub fn seal(key: &[u8; 32], record_id: &str, nonce: [u8; 12], plain: &str) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: record_id.as_bytes(),
            },
        )
        .expect("encryption of a short text cannot fail");
    let mut out = nonce.to_vec();
    out.extend(ct);
    B64.encode(out)
}

pub fn open(key: &[u8; 32], record_id: &str, sealed: &str) -> Option<String> {
    let raw = B64.decode(sealed).ok()?;
    if raw.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = raw.split_at(12);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: record_id.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_the_record() {
        let s = seal(&[1; 32], "ver_1", [7; 12], "forest");
        assert!(!s.contains("forest"));
        assert_eq!(open(&[1; 32], "ver_1", &s).as_deref(), Some("forest"));
        assert_eq!(open(&[1; 32], "ver_2", &s), None);
        assert_eq!(open(&[2; 32], "ver_1", &s), None);
        assert_eq!(open(&[1; 32], "ver_1", "AAAA"), None);
    }
}
