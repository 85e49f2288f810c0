"""The prebuilt gateway (scripts/build-gateway.sh: static musl binaries cross-built with Zig): the
aarch64 build, run under qemu-user (Debian's qemu-user) as a phone of the local stack, carries a real
OTP: signed request from the edge, its SQLite queue, the termux-sms-send stand-in, the delivery report
back to the edge, and the code verifies."""

import shutil
import struct
import time

import pytest

from conftest import SUITE_WORKER_VARS, running, tenant_on
from tests.harness.stack import Stack, gateway_dist

QEMU = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
EM_AARCH64 = 183
PT_INTERP = 3


def elf_facts(path):
    """(machine, has a program interpreter) from an ELF64 file's headers."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2, f"{path} is not a 64-bit ELF file"
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    kinds = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return machine, PT_INTERP in kinds


@pytest.fixture(scope="module")
def arm_phone():
    if QEMU is None:
        pytest.fail("qemu-user is not installed (scripts/setup.sh installs it)")
    binary = gateway_dist(["aarch64"]) / "phone-gateway-linux-aarch64"
    stack = Stack(worker_vars=SUITE_WORKER_VARS, gateway_cmd={"phone-1": [QEMU, str(binary)]})
    for s in running(stack):
        yield s, binary


def test_the_aarch64_binary_is_static_and_carries_an_otp_under_qemu(arm_phone, new_phone):
    stack, binary = arm_phone
    machine, dynamic = elf_facts(binary)
    assert machine == EM_AARCH64, f"not an aarch64 binary: e_machine {machine}"
    assert not dynamic, "the binary needs a dynamic loader: it would not run on Android"
    gw = stack.gateways[0]
    assert gw["cmd"][:2] == [QEMU, str(binary)], gw["cmd"]

    t = tenant_on(stack, settings={"template": "Code [{code}]", "code_type": "digits"})
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    delivery = r.json()["data"]["delivery"]
    assert delivery["gateway_id"] == "phone-1", delivery
    text = stack.sms.wait_for(phone, timeout=60)
    code = text[text.index("[") + 1:text.index("]")]

    # The phone's delivery report reached the edge: the message is "sent" there.
    deadline = time.time() + 60
    while True:
        m = t.get(f"/v1/messages/{delivery['message_id']}").json()["data"]
        if m["state"] == "sent" or time.time() > deadline:
            break
        time.sleep(0.3)
    assert m["state"] == "sent", m

    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
