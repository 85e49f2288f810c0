//! The curated word list for word codes: 2,717 short (3 to 8 letters), common English words.
//! Built from the BIP-39 English list (designed so no two words share their first four letters;
//! public domain / MIT) and the EFF short wordlist (CC BY 3.0), minus words that are negative,
//! violent, rude or awkward to receive in a text (see `BLOCKLIST`), and minus plural twins
//! (`cats` when `cat` is present) so a code cannot be "almost right".

use std::sync::OnceLock;

const RAW: &str = include_str!("words/en.txt");

/// Words never to send, checked by a test so a later edit of the list cannot bring them back.
pub const BLOCKLIST: &[&str] = &[
    "abuse", "addict", "alcohol", "angry", "attack", "awful", "blood", "bomb", "bullet", "cancer",
    "coffin", "corpse", "crime", "cruel", "dead", "death", "disease", "drug", "drunk", "dumb",
    "enemy", "evil", "fat", "gun", "hate", "hell", "idiot", "insane", "jail", "kill", "knife",
    "murder", "naked", "poison", "prison", "rape", "riot", "sex", "sick", "slave", "stupid",
    "suicide", "sword", "terror", "thief", "toxic", "ugly", "victim", "war", "weapon",
];

pub fn words() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        RAW.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

pub fn contains(word: &str) -> bool {
    words().binary_search(&word).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keeps_its_invariants() {
        let w = words();
        assert!(w.len() >= 2048, "{} words", w.len());
        assert!(w.windows(2).all(|p| p[0] < p[1]), "sorted and unique");
        for word in w {
            assert!(
                (3..=8).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_lowercase()),
                "{word}"
            );
            assert!(!BLOCKLIST.contains(word), "{word} is blocked");
            assert!(
                !(word.ends_with('s') && contains(&word[..word.len() - 1])),
                "{word} is a plural twin"
            );
        }
    }

    /// A code must cost one GSM-7 septet per letter (so it never turns a text into UCS-2) and be
    /// read back without doubt: plain ASCII letters have no look-alikes from other scripts, and no
    /// two words differ only by a pair of letters that reads as another letter ("rn" / "m",
    /// "vv" / "w").
    #[test]
    fn words_are_gsm7_and_free_of_confusables() {
        use std::collections::HashMap;
        let mut seen: HashMap<String, &str> = HashMap::new();
        for word in words() {
            assert!(
                word.chars().all(|c| crate::sms::gsm_septets(c) == Some(1)),
                "{word}"
            );
            assert!(word.is_ascii(), "{word}");
            let skeleton = word.replace("rn", "m").replace("vv", "w");
            if let Some(other) = seen.insert(skeleton, word) {
                panic!("{word} reads like {other}");
            }
        }
    }
}
