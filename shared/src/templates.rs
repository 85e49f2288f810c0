//! The SMS around a code: a natural sentence picked at random from lead-ins and closings per
//! locale ("Here's what you asked for, forest, Have a nice day."), or a tenant's own template with
//! `{code}`, `{minutes}` and `{app}` placeholders. English texts are GSM-7 so a code fits one SMS.

use rand_core::RngCore;

use crate::sms;

struct Locale {
    tag: &'static str,
    leads: &'static [&'static str],
    closings: &'static [&'static str],
}

const LOCALES: &[Locale] = &[
    Locale {
        tag: "en",
        leads: &[
            "Here's what you asked for",
            "Here you go",
            "As requested",
            "Here is your code",
            "Your code, as promised",
            "Hello! Your code is",
        ],
        closings: &[
            "Have a nice day.",
            "It expires in {minutes} minutes.",
            "Please keep it to yourself.",
            "Enjoy your day.",
            "Valid for {minutes} minutes.",
            "Thanks for using {app}.",
        ],
    },
    Locale {
        tag: "es",
        leads: &[
            "Aquí tienes lo que pediste",
            "Como pediste",
            "Tu código es",
            "Hola, tu código es",
        ],
        closings: &[
            "Que tengas un buen día.",
            "Vence en {minutes} minutos.",
            "No lo compartas con nadie.",
            "Gracias por usar {app}.",
        ],
    },
    Locale {
        tag: "fr",
        leads: &[
            "Voici ce que vous avez demandé",
            "Voici votre code",
            "Comme demandé",
            "Bonjour, votre code est",
        ],
        closings: &[
            "Bonne journée.",
            "Il expire dans {minutes} minutes.",
            "Ne le partagez avec personne.",
            "Merci d'utiliser {app}.",
        ],
    },
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template must contain {{code}} exactly once")]
    CodePlaceholder,
    #[error("unknown placeholder {{{0}}}; use {{code}}, {{minutes}} or {{app}}")]
    UnknownPlaceholder(String),
    #[error("the template contains control characters")]
    ControlChars,
    #[error("with the longest code the message would take {0} SMS parts; at most 2 are allowed")]
    TooLong(usize),
}

impl TemplateError {
    pub fn code(&self) -> &'static str {
        "template_invalid"
    }
}

/// Locales with built-in sentences; others fall back to English.
pub fn locales() -> impl Iterator<Item = &'static str> {
    LOCALES.iter().map(|l| l.tag)
}

fn pick<'a, R: RngCore>(rng: &mut R, items: &'a [&'a str]) -> &'a str {
    items[(rng.next_u32() % items.len() as u32) as usize]
}

fn fill(text: &str, code: &str, minutes: u32, app: &str) -> String {
    text.replace("{minutes}", &minutes.to_string())
        .replace("{app}", app)
        .replace("{code}", code)
}

/// A built-in sentence in `locale` (primary subtag: "es-MX" -> "es"; unknown -> "en").
pub fn render<R: RngCore>(
    locale: &str,
    code: &str,
    minutes: u32,
    app: &str,
    rng: &mut R,
) -> String {
    let primary = locale
        .split(['-', '_'])
        .next()
        .unwrap_or("en")
        .to_ascii_lowercase();
    let l = LOCALES
        .iter()
        .find(|l| l.tag == primary)
        .unwrap_or(&LOCALES[0]);
    let lead = pick(rng, l.leads);
    let closing = pick(rng, l.closings);
    fill(&format!("{lead}, {code}, {closing}"), code, minutes, app)
}

/// Checks a tenant template: one `{code}`, known placeholders only, within 2 SMS parts with the
/// longest possible code (four 8-letter words).
pub fn validate_custom(template: &str) -> Result<(), TemplateError> {
    if template.matches("{code}").count() != 1 {
        return Err(TemplateError::CodePlaceholder);
    }
    if template.chars().any(|c| c.is_control() && c != '\n') {
        return Err(TemplateError::ControlChars);
    }
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| TemplateError::UnknownPlaceholder(after.chars().take(20).collect()))?;
        let name = &after[..end];
        if !matches!(name, "code" | "minutes" | "app") {
            return Err(TemplateError::UnknownPlaceholder(name.to_string()));
        }
        rest = &after[end + 1..];
    }
    let longest = fill(
        template,
        "abcdefgh abcdefgh abcdefgh abcdefgh",
        1440,
        "an app name of thirty chars xx",
    );
    let parts = sms::analyze(&longest).segments;
    if parts > 2 {
        return Err(TemplateError::TooLong(parts));
    }
    Ok(())
}

pub fn render_custom(
    template: &str,
    code: &str,
    minutes: u32,
    app: &str,
) -> Result<String, TemplateError> {
    validate_custom(template)?;
    Ok(fill(template, code, minutes, app))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn english_sentences_are_single_gsm_messages_with_the_code_set_off_by_commas() {
        let mut r = Seq(0);
        for _ in 0..50 {
            let t = render("en-US", "forest river", 5, "Acme", &mut r);
            assert!(t.contains(", forest river, "), "{t}");
            let i = sms::analyze(&t);
            assert_eq!((i.encoding, i.segments), (sms::Encoding::Gsm7, 1), "{t}");
            assert!(!t.contains('{'), "{t}");
        }
    }

    #[test]
    fn unknown_locale_falls_back_to_english() {
        let mut r = Seq(0);
        let t = render("xx", "forest", 5, "Acme", &mut r);
        assert!(LOCALES[0].leads.iter().any(|l| t.starts_with(l)), "{t}");
        assert!(render("fr", "forest", 5, "Acme", &mut r).contains("forest"));
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
        assert!(matches!(
            validate_custom(&format!("{{code}} {}", "x".repeat(300))).unwrap_err(),
            TemplateError::TooLong(3)
        ));
    }
}
