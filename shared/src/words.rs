//! The curated word list for word codes: 2,709 short (3 to 8 letters), common English words.
//! Built from the BIP-39 English list (designed so no two words share their first four letters;
//! public domain / MIT) and the EFF short wordlist (CC BY 3.0), minus words that are negative,
//! violent, rude or awkward to receive in a text (`words/blocklist.txt`), and minus plural twins
//! (`cats` when `cat` is present) so a code cannot be "almost right".

use std::sync::OnceLock;

const RAW: &str = include_str!("words/en.txt");

/// Words never to send (`words/blocklist.txt`), checked by a test so a later edit of the list
/// cannot bring them back.
const BLOCKLIST: &str = include_str!("words/blocklist.txt");

/// The blocked words.
pub fn blocklist() -> impl Iterator<Item = &'static str> {
    BLOCKLIST
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

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
            assert!(
                !(word.ends_with('s') && contains(&word[..word.len() - 1])),
                "{word} is a plural twin"
            );
        }
    }

    /// No word of `words/blocklist.txt` is in the list (raid, bully, wound and cigar were, once).
    #[test]
    fn the_list_holds_no_blocked_word() {
        let blocked: Vec<&str> = blocklist().collect();
        assert!(blocked.len() >= 50, "{} blocked words", blocked.len());
        for word in ["raid", "bully", "wound", "cigar"] {
            assert!(blocked.contains(&word), "{word} is on the blocklist");
        }
        let listed: Vec<&&str> = blocked.iter().filter(|w| contains(w)).collect();
        assert!(listed.is_empty(), "blocked words in the list: {listed:?}");
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
