//! The built-in OTP sentences per language (two styles: natural messages and standard code
//! sentences), and which language a country reads.
//!
//! Every sentence (every natural opening with every closing) must fit one SMS with the longest code (four of the longest words, or ten
//! digits), a 20-character app name and the longest validity ("1439 minutes"): the tests go over
//! each one. Spanish, French, German and Portuguese are worded within the GSM-7 alphabet (so
//! "clave" and "senha" rather than "código", whose ó would make the whole text UCS-2 and halve
//! its room); Hindi cannot be GSM-7, so its sentences are short enough for UCS-2's 70 units.

pub(super) struct Locale {
    pub tag: &'static str,
    /// The standard style, with `{code}`, `{app}` and `{duration}` ("5 minutes", "24 hours").
    pub sentences: &'static [&'static str],
    /// The natural style: an opening that carries `{code}` (set off by punctuation, so the code
    /// reads as one unit) and a closing, picked independently.
    pub natural: Natural,
    pub minute: Plural,
    pub hour: Plural,
}

/// The seed's "Smart OTP": the code woven into a short personal message, a random opening and a
/// random closing, so texts do not read like bulk codes. No word of the service's vocabulary
/// ("code", "OTP"), no validity: a message a friend could have sent.
pub(super) struct Natural {
    pub openings: &'static [&'static str],
    pub closings: &'static [&'static str],
}

pub(super) struct Plural {
    pub one: &'static str,
    pub other: &'static str,
}

impl Locale {
    /// "1 minute", "90 minutes", "2 hours": whole hours from two hours up.
    pub fn duration(&self, minutes: u32) -> String {
        let (n, unit) = if minutes >= 120 && minutes.is_multiple_of(60) {
            (minutes / 60, &self.hour)
        } else {
            (minutes, &self.minute)
        };
        format!("{n} {}", if n == 1 { unit.one } else { unit.other })
    }
}

pub(super) const LOCALES: &[Locale] = &[
    Locale {
        tag: "en",
        sentences: &[
            "{code} is your {app} code. It expires in {duration}.",
            "Your {app} code is {code}. It is valid for {duration}.",
            "{app}: your code is {code}. Do not share it with anyone.",
            "Your {app} code: {code}",
        ],
        natural: Natural {
            openings: &[
                "Here's what you asked for, {code},",
                "Hi! As promised: {code}.",
                "Hi there, here it is: {code}.",
                "Hey, sending this over: {code}.",
                "Good to hear from you. Here you go: {code}.",
                "A note from {app}: {code}.",
            ],
            closings: &[
                "Have a nice day.",
                "Take care!",
                "Enjoy your day.",
                "All the best.",
                "Thanks!",
                "See you soon.",
            ],
        },
        minute: Plural {
            one: "minute",
            other: "minutes",
        },
        hour: Plural {
            one: "hour",
            other: "hours",
        },
    },
    Locale {
        tag: "es",
        sentences: &[
            "{code} es tu clave de {app}. Caduca en {duration}.",
            "Tu clave de {app} es {code}. Vence en {duration}.",
            "{app}: tu clave es {code}. No la compartas con nadie.",
            "Clave de {app}: {code}",
        ],
        natural: Natural {
            openings: &[
                "Hola, esto es lo que pediste: {code}.",
                "¡Hola! Como quedamos: {code}.",
                "Buenas, te paso lo que pediste: {code}.",
                "Lo prometido: {code}.",
                "Un mensaje de {app}: {code}.",
            ],
            closings: &[
                "¡Que te vaya bien!",
                "Saludos.",
                "Un abrazo.",
                "¡Hasta pronto!",
                "Gracias.",
            ],
        },
        minute: Plural {
            one: "minuto",
            other: "minutos",
        },
        hour: Plural {
            one: "hora",
            other: "horas",
        },
    },
    Locale {
        tag: "fr",
        sentences: &[
            "{code} est votre code {app}. Il expire dans {duration}.",
            "Votre code {app} est {code}. Il est valable {duration}.",
            "{app} : votre code est {code}. Ne le partagez avec personne.",
            "Code {app} : {code}",
        ],
        natural: Natural {
            openings: &[
                "Bonjour, voici ce que vous avez demandé : {code}.",
                "Comme promis : {code}.",
                "Bonjour ! Voici pour vous : {code}.",
                "Petit message de {app} : {code}.",
            ],
            closings: &[
                "Bonne journée !",
                "Belle journée à vous.",
                "Au plaisir !",
                "Merci !",
                "Cordialement.",
            ],
        },
        minute: Plural {
            one: "minute",
            other: "minutes",
        },
        hour: Plural {
            one: "heure",
            other: "heures",
        },
    },
    Locale {
        tag: "de",
        sentences: &[
            "{code} ist Ihr {app}-Code. Er läuft in {duration} ab.",
            "Ihr {app}-Code lautet {code}. Er ist {duration} gültig.",
            "{app}: Ihr Code lautet {code}. Geben Sie ihn nicht weiter.",
            "{app}-Code: {code}",
        ],
        natural: Natural {
            openings: &[
                "Hallo, hier ist, worum Sie gebeten haben: {code}.",
                "Wie versprochen: {code}.",
                "Guten Tag! Hier bitte: {code}.",
                "Eine kurze Nachricht von {app}: {code}.",
            ],
            closings: &[
                "Einen schönen Tag noch!",
                "Viele Grüße.",
                "Alles Gute!",
                "Danke und bis bald.",
            ],
        },
        minute: Plural {
            one: "Minute",
            other: "Minuten",
        },
        hour: Plural {
            one: "Stunde",
            other: "Stunden",
        },
    },
    Locale {
        tag: "pt",
        sentences: &[
            "{code} é a sua senha {app}. Expira em {duration}.",
            "Sua senha {app} é {code}. Vale por {duration}.",
            "{app}: sua senha é {code}. Nunca a compartilhe.",
            "Senha {app}: {code}",
        ],
        natural: Natural {
            openings: &[
                "Oi, aqui vai o que pediu: {code}.",
                "Conforme combinado: {code}.",
                "Oi! Segue o que pediu: {code}.",
                "Recado de {app}: {code}.",
            ],
            closings: &[
                "Tenha um bom dia!",
                "Até logo!",
                "Obrigado!",
                "Tudo de bom!",
            ],
        },
        minute: Plural {
            one: "minuto",
            other: "minutos",
        },
        hour: Plural {
            one: "hora",
            other: "horas",
        },
    },
    Locale {
        tag: "hi",
        sentences: &[
            "{code} आपका {app} कोड है।",
            "{app} का कोड {code} है।",
            "{app} कोड: {code}",
        ],
        natural: Natural {
            openings: &[
                "नमस्ते! यह रहा: {code}।",
                "आपके लिए: {code}।",
                "जैसा कहा था: {code}।",
            ],
            closings: &["शुभ दिन!", "धन्यवाद!", "ध्यान रखें!"],
        },
        minute: Plural {
            one: "मिनट",
            other: "मिनट",
        },
        hour: Plural {
            one: "घंटा",
            other: "घंटे",
        },
    },
];

pub(super) fn find(tag: &str) -> Option<&'static Locale> {
    LOCALES.iter().find(|l| l.tag == tag)
}

/// The built-in language a country's numbers get, "en" where none is built in. India gets
/// English: it is the usual language of Indian OTP texts, and Hindi in UCS-2 leaves half the room;
/// ask for "hi" with the `locale` field.
pub fn locale_for_region(region: &str) -> &'static str {
    let r = region.trim().to_ascii_uppercase();
    const SPANISH: &[&str] = &[
        "ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO", "HN", "PY", "SV",
        "NI", "CR", "PA", "UY", "PR", "GQ",
    ];
    const FRENCH: &[&str] = &[
        "FR", "BE", "LU", "MC", "SN", "CI", "CM", "ML", "BF", "NE", "TG", "BJ", "GA", "CG", "CD",
        "MG", "GN", "TD", "CF", "DJ", "KM", "HT", "RE", "GP", "MQ", "GF", "YT", "PF", "NC", "PM",
        "BL", "MF", "WF", "BI", "RW", "SC", "VU",
    ];
    const GERMAN: &[&str] = &["DE", "AT", "CH", "LI"];
    const PORTUGUESE: &[&str] = &["PT", "BR", "AO", "MZ", "CV", "GW", "ST", "TL"];
    let table: [(&[&str], &str); 4] = [
        (SPANISH, "es"),
        (FRENCH, "fr"),
        (GERMAN, "de"),
        (PORTUGUESE, "pt"),
    ];
    table
        .iter()
        .find(|(regions, _)| regions.contains(&r.as_str()))
        .map_or("en", |(_, tag)| tag)
}

/// The language to write in: the requested one when built in (its primary subtag: "es-MX" ->
/// "es"), else the country's, else English.
pub fn resolve_locale(requested: Option<&str>, region: Option<&str>) -> &'static str {
    let primary = requested
        .and_then(|l| l.split(['-', '_']).next())
        .map(|p| p.trim().to_ascii_lowercase());
    match primary.as_deref().and_then(find) {
        Some(l) => l.tag,
        None => region.map_or("en", locale_for_region),
    }
}
