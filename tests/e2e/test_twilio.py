"""An application written against Twilio Verify, using Twilio's official Python SDK unchanged except for
the base URL, verifies phones through otp-sms."""

import datetime

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client as TwilioClient

from conftest import code_in

CODE_TEMPLATE = "Code [{code}]"


def twilio_for(stack, key, service_sid="VA00000000000000000000000000000000"):
    client = TwilioClient("AC00000000000000000000000000000000", key)
    client.verify.base_url = stack.url
    return client.verify.v2.services(service_sid)


def test_twilio_sdk_verifies_a_phone(make_tenant, sms, new_phone, stack):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    service = twilio_for(stack, t.key)
    phone = new_phone()
    v = service.verifications.create(to=phone, channel="sms")
    assert v.status == "pending" and v.to == phone and v.channel == "sms" and v.valid is False
    # The SDK parses only Twilio's own timestamp form; anything else would stay a string.
    assert isinstance(v.date_created, datetime.datetime) and len(v.send_code_attempts) == 1
    code = code_in(sms.wait_for(phone))

    wrong = service.verification_checks.create(to=phone, code="not-it")
    assert wrong.status == "pending" and wrong.valid is False

    ok = service.verification_checks.create(to=phone, code=code)
    assert ok.status == "approved" and ok.valid is True and ok.sid == v.sid

    with pytest.raises(TwilioRestException) as err:
        service.verification_checks.create(to=phone, code=code)
    assert err.value.status == 404 and err.value.code == 20404


def test_twilio_check_by_sid_and_a_second_start_repeats_the_code(make_tenant, sms, new_phone, stack):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    service = twilio_for(stack, t.key)
    phone = new_phone()
    first = service.verifications.create(to=phone, channel="sms")
    again = service.verifications.create(to=phone, channel="sms")
    # Like Twilio: starting again while one is pending resends the same code on the same verification.
    assert again.sid == first.sid and len(again.send_code_attempts) == 2
    assert code_in(sms.wait_for(phone, count=2)) == code_in(sms.wait_for(phone, count=1))
    ok = service.verification_checks.create(verification_sid=first.sid, code=code_in(sms.texts_to(phone)[0]))
    assert ok.status == "approved" and ok.to == phone


def test_twilio_max_check_attempts(make_tenant, new_phone, stack):
    t = make_tenant(settings={"max_checks": 2})
    service = twilio_for(stack, t.key)
    phone = new_phone()
    service.verifications.create(to=phone, channel="sms")
    assert service.verification_checks.create(to=phone, code="wrong").status == "pending"
    last = service.verification_checks.create(to=phone, code="wrong")
    assert last.status == "max_attempts_reached" and last.valid is False
    with pytest.raises(TwilioRestException) as err:
        service.verification_checks.create(to=phone, code="wrong")
    assert err.value.status == 429 and err.value.code == 60202


def test_twilio_max_send_attempts(make_tenant, new_phone, stack):
    t = make_tenant(settings={"max_sends": 2})
    service = twilio_for(stack, t.key)
    phone = new_phone()
    service.verifications.create(to=phone, channel="sms")
    service.verifications.create(to=phone, channel="sms")
    with pytest.raises(TwilioRestException) as err:
        service.verifications.create(to=phone, channel="sms")
    assert err.value.status == 429 and err.value.code == 60203


def test_twilio_errors_carry_twilio_codes(make_tenant, new_phone, stack):
    t = make_tenant()
    service = twilio_for(stack, t.key)
    with pytest.raises(TwilioRestException) as err:
        service.verifications.create(to="12345", channel="sms")
    assert err.value.status == 400 and err.value.code == 60200
    for extra in ({"channel": "call"}, {"channel": "sms", "custom_code": "123456"}):
        with pytest.raises(TwilioRestException) as err:
            service.verifications.create(to=new_phone(), **extra)
        assert err.value.status == 400 and err.value.code == 60200, extra
    with pytest.raises(TwilioRestException) as err:
        twilio_for(stack, "otp_sk_aaaaaaaaaaaa_" + "x" * 43).verifications.create(to="+14155550123", channel="sms")
    assert err.value.status == 401 and err.value.code == 20003
    # The raw body is Twilio's error shape.
    r = requests.post(stack.url + "/v2/Services/VA1/VerificationCheck", data={"To": new_phone(), "Code": "x"}, auth=("AC1", t.key), timeout=30)
    body = r.json()
    assert r.status_code == 404 and body["code"] == 20404 and body["status"] == 404 and body["more_info"].endswith("/20404") and body["message"]


def test_twilio_service_sid_does_not_widen_the_rate_limit(make_tenant, new_phone, stack):
    t = make_tenant(settings={"limits": {"per_endpoint": {"limit": 2, "window_secs": 60}}})
    for i in range(2):
        twilio_for(stack, t.key, f"VA{i}").verifications.create(to=new_phone(), channel="sms")
    with pytest.raises(TwilioRestException) as err:
        twilio_for(stack, t.key, "VA9").verifications.create(to=new_phone(), channel="sms")
    assert err.value.status == 429 and err.value.code == 20429
