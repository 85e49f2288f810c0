"""Numbers as libphonenumber's metadata sees them: national formats with a country hint, and SMS only
to lines that take them (fixed lines, premium rate and, unless the tenant allows it, VoIP are refused
with `phone_not_mobile` naming the type, before anything is charged). Then the OTP texts: the reader's
language, the WebOTP and SMS Retriever lines, and custom templates checked against one SMS."""

import random
import re

import requests

rng = random.Random()

CODE_TEMPLATE = "Your {app} code is [{code}]."


def remaining(t):
    return t.get("/v1/usage").json()["data"]["quota"]["remaining"]


def test_a_national_number_with_its_country_gets_the_code(make_tenant, sms):
    t = make_tenant()
    national = f"0412 {rng.randint(0, 999):03d} {rng.randint(0, 999):03d}"
    r = t.post("/v1/otp/send", json={"phone": national, "country": "AU"})
    assert r.status_code == 202, r.text
    e164 = "+61" + national[1:].replace(" ", "")
    assert r.json()["data"]["phone"] == e164
    sms.wait_for(e164)
    # Without the country the same digits mean nothing; an unknown country is its own error.
    r = t.post("/v1/otp/send", json={"phone": national})
    assert r.status_code == 400 and r.json()["error"]["code"] == "phone_invalid", r.text
    r = t.post("/v1/otp/send", json={"phone": national, "country": "XX"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "country_invalid", r.text
    # A resend or a check can name the number the same way.
    r = t.post("/v1/otp/resend", json={"phone": national, "country": "au"})
    assert r.status_code == 202, r.text


def test_a_number_no_country_assigns_is_invalid(make_tenant):
    t = make_tenant()
    for bad in ["+1 000 000 0000", "+1 415 000 0000", "+44 7700 900123"]:
        r = t.post("/v1/otp/send", json={"phone": bad})
        assert r.status_code == 400 and r.json()["error"]["code"] == "phone_invalid", (bad, r.text)


def test_landlines_get_no_sms_and_the_error_names_the_type(make_tenant, sms):
    t = make_tenant(quota=5)
    landline = f"+4420794{rng.randint(0, 99999):05d}"
    for path, body in [("/v1/otp/send", {"phone": landline}), ("/v1/messages", {"phone": landline, "text": "hi"})]:
        r = t.post(path, json=body)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "phone_not_mobile" and err["details"]["number_type"] == "fixed_line", err
        assert "fixed_line" in err["message"]
    # The seed alias keeps its string error and carries the code beside it.
    r = t.seed().post("/api/send-otp", json={"phone": landline})
    assert r.status_code == 400 and r.json()["code"] == "phone_not_mobile" and isinstance(r.json()["error"], str)
    assert remaining(t) == 5
    assert sms.texts_to(landline) == []


def test_voip_numbers_need_the_tenants_consent(make_tenant, admin, sms):
    t = make_tenant()
    voip = f"+44561234{rng.randint(0, 9999):04d}"
    r = t.post("/v1/otp/send", json={"phone": voip})
    assert r.status_code == 400 and r.json()["error"]["details"]["number_type"] == "voip", r.text
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"allow_voip": True}})
    assert r.status_code == 200 and r.json()["data"]["settings"]["allow_voip"] is True
    r = t.post("/v1/otp/send", json={"phone": voip})
    assert r.status_code == 202, r.text
    sms.wait_for(voip)


def test_twilio_callers_get_twilios_landline_error(make_tenant):
    t = make_tenant()
    r = requests.post(
        f"{t.base}/v2/Services/VA00000000000000000000000000000000/Verifications",
        data={"To": "+442079460000", "Channel": "sms"},
        auth=("AC00000000000000000000000000000000", t.key),
        timeout=30,
    )
    assert r.status_code == 400 and r.json()["code"] == 60205, r.text


def french_mobile():
    return f"+33612{rng.randint(0, 999999):06d}"


# The natural style's closings (shared/src/templates/locales.rs).
FRENCH_CLOSINGS = ("Bonne journée !", "Belle journée à vous.", "Au plaisir !", "Merci !", "Cordialement.")
SPANISH_CLOSINGS = ("¡Que te vaya bien!", "Saludos.", "Un abrazo.", "¡Hasta pronto!", "Gracias.")


def test_a_french_number_gets_the_french_text(make_tenant, sms):
    # Word codes read as a natural message, in French.
    t = make_tenant(name="Fromagerie")
    phone = french_mobile()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    text = sms.wait_for(phone)
    assert text.endswith(FRENCH_CLOSINGS), text
    # The request's locale wins over the country's.
    phone = french_mobile()
    assert t.post("/v1/otp/send", json={"phone": phone, "locale": "es-MX"}).status_code == 202
    assert sms.wait_for(phone).endswith(SPANISH_CLOSINGS)
    # In the standard style too.
    t = make_tenant(name="Fromagerie", settings={"text_style": "standard"})
    phone = french_mobile()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    text = sms.wait_for(phone)
    assert "votre code" in text.lower() or text.startswith("Code Fromagerie :"), text
    phone = french_mobile()
    assert t.post("/v1/otp/send", json={"phone": phone, "locale": "es-MX"}).status_code == 202
    assert "clave" in sms.wait_for(phone).lower()


def test_the_webotp_line_ends_the_sms_and_fills_the_code_in(make_tenant, admin, sms, new_phone):
    t = make_tenant(settings={"code_type": "digits", "digit_length": 6, "webotp_host": "login.example.com", "app_hash": "FA+9qCX9VSu"})
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    lines = sms.wait_for(phone).split("\n")
    m = re.fullmatch(r"@login\.example\.com #(\d{6})", lines[-1])
    assert m, lines
    assert lines[-2] == "FA+9qCX9VSu", lines
    assert t.post("/v1/otp/verify", json={"phone": phone, "code": m.group(1)}).status_code == 200
    # Word codes are joined by dashes on that line, and verify as they are written there.
    admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"code_type": "words", "word_count": 2, "app_hash": None}})
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    last = sms.wait_for(phone).split("\n")[-1]
    m = re.fullmatch(r"@login\.example\.com #([a-z]+-[a-z]+)", last)
    assert m, last
    assert t.post("/v1/otp/verify", json={"phone": phone, "code": m.group(1)}).status_code == 200


def test_a_template_that_cannot_fit_one_sms_is_refused_with_the_reason(make_tenant, admin):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    long_template = "Welcome back! " * 8 + "Your code is {code}."
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"template": long_template, "word_count": 4}})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "template_invalid" and "does not fit one SMS" in err["message"] and "160" in err["message"], err
    # What fits alone may not fit with the WebOTP line: the worst case counts it.
    fits = "x" * 100 + " {code}"
    assert admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"template": fits, "code_type": "digits"}}).status_code == 200
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"webotp_host": "a-rather-long-host-name.accounts.example.com"}})
    assert r.status_code == 400 and "WebOTP line" in r.json()["error"]["message"], r.text
    for settings, code in [({"webotp_host": "Example.COM/path"}, "webotp_host_invalid"), ({"app_hash": "short"}, "app_hash_invalid")]:
        r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": settings})
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
