//! Generates `shared/src/phone/table.rs` from libphonenumber's metadata and fails when the checked-in
//! table differs from what the metadata gives (a `phonenumber` upgrade, or a hand edit).
//! `UPDATE_PHONE_TABLE=1 cargo test -p otp-shared --test phone_table` rewrites it.

mod automaton;
mod render;
mod source;

use std::path::PathBuf;

/// The crate's directory as `cargo test` gives it when it runs the test: a test binary reused from a
/// cache restored under another path still has the old path compiled in.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from)
}

#[test]
fn table_is_generated_from_the_current_metadata() {
    let regions = source::regions();
    let mut automata = automaton::Automata::default();
    let mut starts: Vec<u32> = regions.iter().map(|r| automata.add(&r.patterns)).collect();
    automata.minimize(&mut starts);
    let text = render::render(&regions, &starts, &automata);

    let path = manifest_dir().join("src/phone/table.rs");
    if std::env::var_os("UPDATE_PHONE_TABLE").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == text,
        "{} is not what the metadata gives; regenerate it with \
         UPDATE_PHONE_TABLE=1 cargo test -p otp-shared --test phone_table",
        path.display()
    );
}

/// The minimised automaton answers like the patterns it was built from, on every example number
/// and on every one-digit-longer or -shorter variant of it.
#[test]
fn automaton_agrees_with_the_patterns_it_was_built_from() {
    let regions = source::regions();
    let mut automata = automaton::Automata::default();
    let mut starts: Vec<u32> = regions.iter().map(|r| automata.add(&r.patterns)).collect();
    let unminimized_starts: Vec<u32> = starts.clone();
    let unminimized = automaton::Automata {
        states: automata.states.clone(),
    };
    automata.minimize(&mut starts);
    let mut checked = 0;
    for (i, r) in regions.iter().enumerate() {
        let regexes: Vec<(u16, u32, regex::Regex)> = r
            .patterns
            .iter()
            .map(|(tag, lengths, pattern)| {
                let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
                (*tag, *lengths, re)
            })
            .collect();
        for sample in samples(&r.id, r.country_code) {
            let expected = regexes
                .iter()
                .filter(|(_, lengths, re)| {
                    lengths & (1 << sample.len().min(31)) != 0 && re.is_match(&sample)
                })
                .fold(0, |t, (tag, _, _)| t | tag);
            assert_eq!(
                automata.run(starts[i], &sample),
                expected,
                "{} {sample}",
                r.id
            );
            let before = unminimized.run(unminimized_starts[i], &sample);
            assert_eq!(before, expected, "{} {sample}", r.id);
            checked += 1;
        }
    }
    assert!(checked > 3000, "{checked}");
}

/// Example numbers of a region, each with one digit dropped, added or changed.
fn samples(id: &str, cc: u16) -> Vec<String> {
    let meta = phonenumber::metadata::DATABASE
        .by_code(&cc)
        .unwrap()
        .into_iter()
        .find(|m| m.id() == id)
        .unwrap();
    let mut out = Vec::new();
    for desc in source::descriptors(meta).into_iter().flatten() {
        let Some(ex) = desc.example() else { continue };
        out.push(ex.to_string());
        out.push(ex[..ex.len() - 1].to_string());
        out.push(format!("{ex}0"));
        for d in 0..10 {
            out.push(format!("{d}{}", &ex[1..]));
        }
    }
    out
}
