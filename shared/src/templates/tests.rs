use super::*;

struct Seq(u32);
impl RngCore for Seq {
    fn next_u32(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }
    fn next_u64(&mut self) -> u64 {
        self.next_u32() as u64
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        d.fill(0)
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(d);
        Ok(())
    }
}

const LONGEST_DIGITS: CodeType = CodeType::Digits { len: 10 };
const LONGEST_WORDS: CodeType = CodeType::Words { count: 4 };

fn longest_app() -> String {
    "W".repeat(MAX_APP_NAME)
}

const STYLES: [TextStyle; 2] = [TextStyle::Natural, TextStyle::Standard];

/// Every built-in sentence of `locale`, both styles.
fn all_sentences(locale: &'static locales::Locale) -> Vec<String> {
    STYLES
        .iter()
        .flat_map(|s| sentences(locale, *s))
        .map(|s| s.into_owned())
        .collect()
}

#[test]
fn the_longest_code_uses_the_longest_word_of_the_list() {
    let longest = words::words().iter().map(|w| w.len()).max().unwrap();
    assert_eq!(longest_code(LONGEST_WORDS).len(), 4 * longest + 3);
    assert_eq!(longest_code(LONGEST_DIGITS).len(), 10);
}

/// Every sentence of every locale, with the longest word code and the longest digit code, the
/// longest app name and every validity from 1 minute to a day, is one SMS.
#[test]
fn every_sentence_of_every_locale_fits_one_sms_with_the_longest_code() {
    let app = longest_app();
    for locale in locales::LOCALES {
        let durations: Vec<String> = (1..=MAX_MINUTES).map(|m| locale.duration(m)).collect();
        for sentence in all_sentences(locale) {
            for ct in [LONGEST_WORDS, LONGEST_DIGITS] {
                let code = longest_code(ct);
                for d in &durations {
                    let text = fill(&sentence, &code, d, &app);
                    let info = sms::analyze(&text);
                    assert_eq!(info.segments, 1, "{}: {text} ({info:?})", locale.tag);
                    assert!(!text.contains('{'), "{text}");
                }
            }
        }
    }
}

/// The European languages are worded within GSM-7, so their room is 160, not 70.
#[test]
fn european_sentences_stay_in_gsm7_and_hindi_is_ucs2() {
    for locale in locales::LOCALES {
        for sentence in all_sentences(locale) {
            let text = fill(&sentence, "forest river", &locale.duration(5), "Acme");
            let expected = if locale.tag == "hi" {
                Encoding::Ucs2
            } else {
                Encoding::Gsm7
            };
            assert_eq!(
                sms::analyze(&text).encoding,
                expected,
                "{}: {text}",
                locale.tag
            );
        }
    }
}

#[test]
fn durations_read_naturally() {
    let en = locales::find("en").unwrap();
    assert_eq!(en.duration(1), "1 minute");
    assert_eq!(en.duration(5), "5 minutes");
    assert_eq!(en.duration(90), "90 minutes");
    assert_eq!(en.duration(120), "2 hours");
    assert_eq!(locales::find("de").unwrap().duration(1440), "24 Stunden");
    assert_eq!(locales::find("hi").unwrap().duration(60), "60 मिनट");
}

fn extras_params<'a>(code: &'a str, host: &'a str, hash: &'a str) -> TextParams<'a> {
    TextParams {
        code,
        style: None,
        minutes: 10,
        app: "Acme",
        webotp_host: Some(host),
        app_hash: Some(hash),
    }
}

/// With the WebOTP and app-hash lines too, whatever the locale and code: one SMS, the WebOTP line
/// last, the hash on the line before it.
#[test]
fn texts_with_extra_lines_are_still_one_sms() {
    let longest_host = format!("{}.example.com", "a".repeat(MAX_WEBOTP_HOST - 12));
    let hash = "FA+9qCX9VSu";
    let mut rng = Seq(0);
    for locale in locales() {
        for ct in [LONGEST_WORDS, LONGEST_DIGITS, CodeType::Digits { len: 4 }] {
            let code = longest_code(ct);
            for (host, style) in ["example.com", longest_host.as_str()]
                .into_iter()
                .flat_map(|h| STYLES.map(|s| (h, Some(s))))
            {
                for _ in 0..8 {
                    let p = TextParams {
                        style,
                        ..extras_params(&code, host, hash)
                    };
                    let text = render_with(locale, &p, &mut rng);
                    assert_eq!(sms::analyze(&text).segments, 1, "{locale}: {text}");
                    let lines: Vec<&str> = text.lines().collect();
                    let webotp = format!("@{host} #{}", code.replace(' ', "-"));
                    assert_eq!(lines[lines.len() - 1], webotp, "{text}");
                    assert_eq!(lines[lines.len() - 2], hash, "{text}");
                }
            }
        }
    }
}

/// A text stays in the reader's language whenever one of its sentences fits.
#[test]
fn the_language_is_kept_when_a_sentence_fits() {
    let mut rng = Seq(0);
    let p = extras_params("123456", "example.com", "FA+9qCX9VSu");
    let markers = [
        ("en", "code"),
        ("es", "lave"),
        ("fr", "ode"),
        ("de", "Code"),
        ("pt", "enha"),
    ];
    for (locale, marker) in markers {
        for _ in 0..8 {
            let text = render_with(locale, &p, &mut rng);
            assert!(
                text.lines().next().unwrap().contains(marker),
                "{locale}: {text}"
            );
        }
    }
    // Hindi (UCS-2: 70 units) has room for a word code, or for a digit code and the extra lines,
    // not for both: then the text falls back to English.
    let words = longest_code(LONGEST_WORDS);
    assert!(render_with("hi", &p, &mut rng).contains("कोड"));
    let plain = TextParams {
        code: &words,
        style: Some(TextStyle::Standard),
        webotp_host: None,
        app_hash: None,
        ..p
    };
    assert!(render_with("hi", &plain, &mut rng).contains("कोड"));
    let natural = TextParams {
        style: None,
        ..plain
    };
    let t = render_with("hi", &natural, &mut rng);
    assert!(
        t.contains("नमस्ते") || t.contains("आपके") || t.contains("जैसा"),
        "{t}"
    );
    for style in [None, Some(TextStyle::Standard)] {
        let p = TextParams {
            code: &words,
            style,
            ..p
        };
        let with_lines = render_with("hi", &p, &mut rng);
        assert!(with_lines.is_ascii(), "falls back to English: {with_lines}");
    }
}

#[test]
fn standard_texts_carry_code_app_and_validity() {
    let mut r = Seq(0);
    for _ in 0..50 {
        let t = render("en-US", "12345678", 5, "Acme", &mut r);
        assert!(t.contains("12345678"), "{t}");
        assert!(t.contains("Acme") || t.contains("5 minutes"), "{t}");
        let p = TextParams {
            style: Some(TextStyle::Standard),
            minutes: 5,
            webotp_host: None,
            app_hash: None,
            ..extras_params("forest river", "x.com", "FA+9qCX9VSu")
        };
        let t = render_with("en-US", &p, &mut r);
        assert!(t.contains("forest river"), "{t}");
        assert!(t.contains("Acme") || t.contains("5 minutes"), "{t}");
        assert!(!t.contains('{'), "{t}");
    }
    let t = render("xx", "1234", 5, "Acme", &mut r);
    assert!(locales::LOCALES[0]
        .sentences
        .iter()
        .any(|s| t == fill(s, "1234", "5 minutes", "Acme")));
}

#[test]
fn word_codes_read_naturally_by_default_and_digits_do_not() {
    assert_eq!(TextStyle::default_for("forest river"), TextStyle::Natural);
    assert_eq!(TextStyle::default_for("123456"), TextStyle::Standard);
    let mut r = Seq(0);
    let en = locales::find("en").unwrap();
    for _ in 0..50 {
        let t = render("en", "forest river", 10, "Acme", &mut r);
        let (opening, closing) = split_natural(en, &t, "forest river", "Acme")
            .unwrap_or_else(|| panic!("not a natural text: {t}"));
        assert!(opening.contains("{code}") && !closing.is_empty());
    }
    // Asked for, a digit code reads naturally too, and a word code can have the standard style.
    let p = TextParams {
        style: Some(TextStyle::Natural),
        ..extras_params("123456", "x.com", "FA+9qCX9VSu")
    };
    let plain = TextParams {
        webotp_host: None,
        app_hash: None,
        ..p
    };
    assert!(split_natural(en, &render_with("en", &plain, &mut r), "123456", "Acme").is_some());
    let standard = TextParams {
        code: "forest river",
        style: Some(TextStyle::Standard),
        ..plain
    };
    let t = render_with("en", &standard, &mut r);
    assert!(
        split_natural(en, &t, "forest river", "Acme").is_none(),
        "{t}"
    );
    assert!(t.contains("code"), "{t}");
}

/// The opening and closing a natural text was made of, if it is one.
fn split_natural(
    locale: &locales::Locale,
    text: &str,
    code: &str,
    app: &str,
) -> Option<(&'static str, &'static str)> {
    let n = &locale.natural;
    n.openings.iter().find_map(|o| {
        n.closings
            .iter()
            .find(|c| fill(&format!("{o} {c}"), code, "", app) == text)
            .map(|c| (*o, *c))
    })
}

/// The opening and the closing are picked independently: every opening and every closing of every
/// locale turns up, so texts vary as the seed's did.
#[test]
fn natural_texts_vary_their_opening_and_closing() {
    use std::collections::HashSet;
    let mut rng = Seq(0);
    for locale in locales::LOCALES {
        let (mut openings, mut closings) = (HashSet::new(), HashSet::new());
        for _ in 0..500 {
            let t = render(locale.tag, "forest river", 5, "Acme", &mut rng);
            let (o, c) = split_natural(locale, &t, "forest river", "Acme")
                .unwrap_or_else(|| panic!("{}: not natural: {t}", locale.tag));
            openings.insert(o);
            closings.insert(c);
        }
        assert_eq!(
            openings.len(),
            locale.natural.openings.len(),
            "{}",
            locale.tag
        );
        assert_eq!(
            closings.len(),
            locale.natural.closings.len(),
            "{}",
            locale.tag
        );
    }
}

/// A natural text reads as a message, not a code: no word of the service's vocabulary, no digits,
/// and the code set off by punctuation (a comma, colon or sentence end on both sides), so a reader
/// (and a test) finds it as one unit. In English no other part of the text is made only of list
/// words, so the code is the one all-list-words part.
#[test]
fn natural_openings_set_the_code_apart_and_avoid_code_vocabulary() {
    let is_list_part = |part: &str| {
        let words: Vec<&str> = part.split_whitespace().collect();
        !words.is_empty()
            && words
                .iter()
                .all(|w| words::contains(&w.to_ascii_lowercase()))
    };
    for locale in locales::LOCALES {
        let n = &locale.natural;
        assert!(
            n.openings.len() >= 3 && n.closings.len() >= 3,
            "{}",
            locale.tag
        );
        for o in n.openings {
            assert_eq!(o.matches("{code}").count(), 1, "{o}");
            let (before, after) = o.split_once("{code}").unwrap();
            assert!(
                before.ends_with(": ") || before.ends_with(", ") || before.is_empty(),
                "{o}"
            );
            assert!(after.starts_with(['.', ',', '!', '।']), "{o}");
        }
        for s in sentences(locale, TextStyle::Natural) {
            let lower = s.replace("{code}", "").to_lowercase();
            for banned in ["code", "otp", "pin", "clave", "senha", "कोड"] {
                assert!(!lower.contains(banned), "{}: {s}", locale.tag);
            }
            assert!(!s.chars().any(|c| c.is_ascii_digit()), "{s}");
            if locale.tag == "en" {
                let text = fill(&s, "forest river", "", "Acme");
                let parts: Vec<&str> = text
                    .split(['.', ',', ':', '!', '?'])
                    .filter(|p| is_list_part(p))
                    .collect();
                assert_eq!(parts, [" forest river"], "{text}");
            }
        }
    }
}

/// The README's first paragraph quotes what the default sends: a text the default settings (two
/// words, natural style, English) produce.
#[test]
fn the_readme_example_is_what_the_default_sends() {
    let readme = include_str!("../../../README.md");
    let example = readme
        .split_once("such as *\"")
        .and_then(|(_, rest)| rest.split_once("\"*"))
        .map(|(quote, _)| quote)
        .expect("the README's first paragraph quotes an example text");
    let mut rng = Seq(0);
    let code = example
        .split(['.', ',', ':', '!'])
        .find(|p| {
            let w: Vec<&str> = p.split_whitespace().collect();
            w.len() == 2 && w.iter().all(|w| words::contains(w))
        })
        .expect("a two-word code in the example")
        .trim();
    let sent: std::collections::HashSet<String> = (0..500)
        .map(|_| render("en", code, 5, "Acme", &mut rng))
        .collect();
    assert!(sent.contains(example), "{example:?} is not among {sent:?}");
}

#[test]
fn long_app_names_are_cut() {
    let mut r = Seq(0);
    let name = "The Extremely Long Application Name Inc";
    let t = render("en", "1234", 5, name, &mut r);
    assert!(
        t.contains("The Extremely Long A") && !t.contains("Application"),
        "{t}"
    );
}

#[test]
fn a_placeholder_lookalike_in_the_app_name_stays_as_it_is() {
    let t = render_custom("{app}: {code}", "1234", 5, "{code}").unwrap();
    assert_eq!(t, "{code}: 1234");
}

#[test]
fn custom_templates_are_checked() {
    assert_eq!(
        render_custom("Code: {code} ({minutes} min) - {app}", "1234", 5, "Acme").unwrap(),
        "Code: 1234 (5 min) - Acme"
    );
    assert_eq!(
        validate_custom("no code here").unwrap_err(),
        TemplateError::CodePlaceholder
    );
    assert_eq!(
        validate_custom("{code} {code}").unwrap_err(),
        TemplateError::CodePlaceholder
    );
    assert_eq!(
        validate_custom("{code} {name}").unwrap_err(),
        TemplateError::UnknownPlaceholder("name".into())
    );
    assert_eq!(
        validate_custom("{code}\u{7}").unwrap_err(),
        TemplateError::ControlChars
    );
}

fn limits(code_type: CodeType) -> TemplateLimits<'static> {
    TemplateLimits {
        code_type,
        app: None,
        minutes: None,
        webotp_host: None,
        app_hash: None,
    }
}

#[test]
fn a_template_that_cannot_fit_is_refused_with_the_figures() {
    // 130 characters of text fit beside a 10-digit code, not beside four 8-letter words.
    let template = format!("{} {{code}}", "x".repeat(130));
    assert_eq!(
        validate_custom_with(&template, &limits(LONGEST_DIGITS))
            .unwrap()
            .segments,
        1
    );
    let e = validate_custom_with(&template, &limits(LONGEST_WORDS)).unwrap_err();
    assert_eq!(e.code(), "template_invalid");
    let msg = e.to_string();
    assert!(msg.contains("it takes 166 characters in GSM-7"), "{msg}");
    assert!(
        msg.contains("one SMS holds 160") && msg.contains("35 characters"),
        "{msg}"
    );

    // One character outside GSM-7 makes it UCS-2, whose limit is 70.
    let template = "Ваш код для входа: {code}, {app}";
    let e = validate_custom_with(template, &limits(LONGEST_WORDS)).unwrap_err();
    assert!(e.to_string().contains("UCS-2, and one SMS holds 70"), "{e}");
    assert!(validate_custom_with("Ваш код {code}", &limits(LONGEST_DIGITS)).is_ok());

    // The WebOTP line counts.
    let with_webotp = TemplateLimits {
        webotp_host: Some("example.com"),
        ..limits(LONGEST_WORDS)
    };
    let template = format!("{} {{code}}", "x".repeat(90));
    assert!(validate_custom_with(&template, &limits(LONGEST_WORDS)).is_ok());
    let e = validate_custom_with(&template, &with_webotp).unwrap_err();
    assert!(e.to_string().contains("WebOTP line"), "{e}");

    // The real app name, when known, is what counts.
    let named = TemplateLimits {
        app: Some("Zoë's Café"),
        ..limits(LONGEST_DIGITS)
    };
    assert!(validate_custom_with("{app} {code}", &named).is_ok());
}

#[test]
fn rendering_refuses_a_custom_text_that_outgrew_one_sms() {
    let p = TextParams {
        code: "123456",
        style: None,
        minutes: 5,
        app: "Ünïcødé Ltd ☃",
        webotp_host: None,
        app_hash: None,
    };
    let template = format!("{{app}} {{code}} {}", "y".repeat(60));
    assert!(matches!(
        render_custom_with(&template, &p),
        Err(TemplateError::TooLong { .. })
    ));
}

#[test]
fn extra_lines_are_validated() {
    for host in [
        "example.com",
        "accounts.example.co.uk",
        "localhost",
        "xn--bcher-kva.example",
    ] {
        assert_eq!(validate_webotp_host(host), Ok(()), "{host}");
    }
    let long = format!("{}.com", "a".repeat(MAX_WEBOTP_HOST));
    for host in [
        "https://example.com",
        "Example.com",
        "example.com/",
        "-a.com",
        "a..com",
        "",
        &long,
    ] {
        assert_eq!(
            validate_webotp_host(host).unwrap_err().code(),
            "webotp_host_invalid",
            "{host}"
        );
    }
    assert_eq!(validate_app_hash("FA+9qCX9VSu"), Ok(()));
    for hash in ["FA+9qCX9VS", "FA+9qCX9VSuu", "FA+9qCX9VS!"] {
        assert_eq!(
            validate_app_hash(hash).unwrap_err().code(),
            "app_hash_invalid",
            "{hash}"
        );
    }
    let bad = TemplateLimits {
        app_hash: Some("nope"),
        ..limits(LONGEST_DIGITS)
    };
    assert_eq!(
        validate_custom_with("{code}", &bad).unwrap_err(),
        TemplateError::AppHash
    );
}

#[test]
fn the_language_follows_the_request_then_the_country() {
    assert_eq!(resolve_locale(Some("es-MX"), Some("US")), "es");
    assert_eq!(resolve_locale(Some("pt_BR"), None), "pt");
    assert_eq!(resolve_locale(Some("HI"), Some("IN")), "hi");
    assert_eq!(resolve_locale(Some("ja"), Some("BR")), "pt");
    assert_eq!(resolve_locale(None, Some("mx")), "es");
    assert_eq!(resolve_locale(None, Some("IN")), "en");
    assert_eq!(resolve_locale(None, None), "en");
    for (region, tag) in [
        ("FR", "fr"),
        ("SN", "fr"),
        ("AT", "de"),
        ("AO", "pt"),
        ("GB", "en"),
    ] {
        assert_eq!(locale_for_region(region), tag, "{region}");
    }
    let built_in: Vec<&str> = locales().collect();
    for tag in ["en", "es", "fr", "de", "pt", "hi"] {
        assert!(built_in.contains(&tag), "{tag}");
    }
}
