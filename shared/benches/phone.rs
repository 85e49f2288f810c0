//! Cost of classifying a number: the first one in a fresh process (what a new worker isolate
//! pays) and warm ones, for `otp_shared::phone` and for the `phonenumber` crate.
//! `cargo bench -p otp-shared --bench phone` (each side runs in its own child process, so the
//! first call is really the first).

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use otp_shared::phone::Phone;

/// A mix of countries, formats and types, valid and not.
const NUMBERS: [(&str, Option<&str>); 10] = [
    ("+14155550123", None),
    ("+44 20 7946 0000", None),
    ("+61412345678", None),
    ("+33 6 12 34 56 78", None),
    ("+5511912345678", None),
    ("+919876543210", None),
    ("+2348031234567", None),
    ("+870301234567", None),
    ("+10000000000", None),
    ("0412 345 678", Some("AU")),
];

fn ours(n: &str, country: Option<&str>) -> bool {
    Phone::parse_with_country(n, country).is_ok()
}

fn theirs(n: &str, country: Option<&str>) -> bool {
    let country = country.map(|c| c.parse().unwrap());
    phonenumber::parse(country, n).is_ok_and(|p| {
        let _ = p.number_type(&phonenumber::metadata::DATABASE);
        phonenumber::is_valid(&p)
    })
}

fn measure(name: &str, f: fn(&str, Option<&str>) -> bool) {
    let t = Instant::now();
    black_box(f(black_box("+14155550123"), None));
    let first = t.elapsed();
    let t = Instant::now();
    for (n, c) in NUMBERS {
        black_box(f(black_box(n), c));
    }
    let first_of_each = t.elapsed();
    let rounds = 2_000;
    let t = Instant::now();
    for _ in 0..rounds {
        for (n, c) in NUMBERS {
            black_box(f(black_box(n), c));
        }
    }
    let warm = t.elapsed() / (rounds * NUMBERS.len() as u32);
    println!(
        "{name:>11}: first number {:>12}, next 10 (new countries) {:>12}, warm {:>9} per number",
        show(first),
        show(first_of_each),
        show(warm)
    );
}

fn show(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("ours") => measure("otp_shared", ours),
        Some("theirs") => measure("phonenumber", theirs),
        _ => {
            let me = std::env::current_exe().unwrap();
            for side in ["ours", "theirs"] {
                let status = Command::new(&me).arg(side).status().unwrap();
                assert!(status.success());
            }
        }
    }
}
