"""An application written against Twilio Verify, using Twilio's official Python SDK unchanged except for
the base URL, verifies phones through otp-sms."""

import re

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client as TwilioClient

CODE_TEMPLATE = "Code [{code}]"


def twilio_for(stack, key):
    client = TwilioClient("AC00000000000000000000000000000000", key)
    client.verify.base_url = stack.url
    return client.verify.v2.services("VA00000000000000000000000000000000")


def test_twilio_sdk_verifies_a_phone(make_tenant, sms, new_phone, stack):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    service = twilio_for(stack, t.key)
    phone = new_phone()
    v = service.verifications.create(to=phone, channel="sms")
    assert v.status == "pending" and v.to == phone and v.channel == "sms"
    code = re.search(r"\[([^\]]+)\]", sms.wait_for(phone)).group(1)

    wrong = service.verification_checks.create(to=phone, code="not-it")
    assert wrong.status == "pending" and wrong.valid is False

    ok = service.verification_checks.create(to=phone, code=code)
    assert ok.status == "approved" and ok.valid is True and ok.sid == v.sid

    with pytest.raises(TwilioRestException) as err:
        service.verification_checks.create(to=phone, code=code)
    assert err.value.status == 404 and err.value.code == 20404


def test_twilio_errors_carry_twilio_codes(make_tenant, stack):
    t = make_tenant()
    service = twilio_for(stack, t.key)
    with pytest.raises(TwilioRestException) as err:
        service.verifications.create(to="12345", channel="sms")
    assert err.value.status == 400 and err.value.code == 60200
    with pytest.raises(TwilioRestException) as err:
        twilio_for(stack, "otp_sk_aaaaaaaaaaaa_" + "x" * 43).verifications.create(to="+14155550123", channel="sms")
    assert err.value.status == 401 and err.value.code == 20003
