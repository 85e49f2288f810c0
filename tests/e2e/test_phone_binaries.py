"""The prebuilt gateway (scripts/build-gateway.sh: static musl binaries cross-built with Zig): the
aarch64 build, run under qemu-user (Debian's qemu-user) as a phone of the local stack, carries a real
OTP: signed request from the edge, its SQLite queue, the termux-sms-send stand-in, the delivery report
back to the edge, and the code verifies. The phone reaches the edge by a name that only its own stub
resolver can find (a name server on loopback, written here, stands in for the one Termux's
resolv.conf names): the path a static binary on Android takes, where there is no /etc/resolv.conf."""

import shutil
import socket
import struct
import threading

import pytest

from conftest import SUITE_WORKER_VARS, eventually, running, tenant_on
from tests.harness.stack import Stack, free_port, gateway_dist

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


class NameServer:
    """Answers A queries for `name` with 127.0.0.1 (no AAAA), NXDOMAIN for any other name; notes
    the names it was asked."""

    def __init__(self, name):
        self.name, self.asked = name, []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(512)
            except OSError:
                return
            i, labels = 12, []
            while q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode())
                i += 1 + q[i]
            qtype = struct.unpack_from(">H", q, i + 1)[0]
            asked = ".".join(labels)
            self.asked.append(asked)
            known = asked.lower() == self.name
            r = bytearray(q)
            r[2], r[3] = 0x81, 0x80 if known else 0x83
            if known and qtype == 1:
                r[7] = 1
                r += bytes([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1])
            self.sock.sendto(bytes(r), peer)

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def arm_phone():
    if QEMU is None:
        pytest.fail("qemu-user is not installed (scripts/setup.sh installs it)")
    binary = gateway_dist(["aarch64"]) / "phone-gateway-linux-aarch64"
    dns = NameServer("edge.test")
    worker_port = free_port()
    # The phone's reports go to the edge by name, resolved by the binary's own resolver.
    env = {"PHONE_GATEWAY_EDGE_URL": f"http://edge.test:{worker_port}", "PHONE_GATEWAY_DNS": f"127.0.0.1:{dns.port}"}
    stack = Stack(worker_vars=SUITE_WORKER_VARS, gateway_cmd={"phone-1": [QEMU, str(binary)]}, worker_port=worker_port,
                  gateway_env={"phone-1": env})
    for s in running(stack):
        yield s, binary, dns
    dns.close()


def test_the_aarch64_binary_is_static_and_carries_an_otp_under_qemu(arm_phone, new_phone):
    stack, binary, dns = arm_phone
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
    eventually(lambda: t.get(f"/v1/messages/{delivery['message_id']}").json()["data"],
               lambda m: m["state"] == "sent", "the delivery report", timeout=60, every=0.3)
    assert "edge.test" in dns.asked, "the report did not go through the phone's own resolver"

    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
