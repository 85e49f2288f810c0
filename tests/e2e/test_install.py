"""install.sh on a fresh Termux, simulated: a fake prefix and home, REAL runit (Debian's runsvdir,
runsv, sv, svlogd), and stand-ins only for `pkg`, the `termux-*` programs and the release download
host. The download host is a local HTTP server written here that speaks what a GitHub release does
(`<release>/<asset>`), serving the static x86_64 binary, install.sh and SHA256SUMS made by
scripts/build-gateway.sh. The install is the documented one-liner (`curl ... | bash -s -- ...`), so it
runs with no clone and no compiler.

One phone goes from nothing to sending an OTP for the running stack; then a re-run, a reboot (the
Termux:Boot script), updates (a second build, a broken one that is rolled back, the scheduled check),
and a tampered download that is refused on a second fresh phone."""

import hashlib
import http.server
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import SUITE_WORKER_VARS, eventually, running, tenant_on
from tests.harness.stack import LISTER, READINGS, RECORDER, Stack, free_port, gateway_dist

ASSET = "phone-gateway-linux-x86_64"
NEXT_VERSION = "0.1.0-next"
# How long an update's new gateway gets to answer before it is rolled back (install.sh waits for the
# answer; this bounds the broken release's case).
HEALTH_SECS = "15"


class ReleaseHost:
    """Stand-in for the release download host: GET /latest/<asset> serves `self.root/<asset>`; the
    test switches `root` to publish another release."""

    def __init__(self, root):
        self.root = Path(root)
        self.requests = []
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host.requests.append(self.path)
                name = self.path.removeprefix("/latest/")
                path = host.root / name
                if "/" in name or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/latest"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# `pkg install` stand-in: records its arguments and puts in place what each package brings that the
# installer relies on. termux-services brings runit (Debian's real programs, linked) and the profile
# script that starts its daemon; like the real one (start-stop-daemon with a pid file) it notes the
# daemon's pid. termux-api brings the Termux:API programs (the stack's recording stand-ins).
PKG = """#!/usr/bin/env bash
echo "pkg $*" >> "$PREFIX/../pkg.log"
for p in "$@"; do
  case "$p" in
    termux-services)
      for t in runsvdir runsv sv svlogd chpst; do ln -sf "$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v $t)" "$PREFIX/bin/$t"; done
      mkdir -p "$PREFIX/etc/profile.d" "$PREFIX/var/run" "$PREFIX/var/service"
      cat > "$PREFIX/etc/profile.d/start-services.sh" <<'EOS'
export SVDIR=$PREFIX/var/service
# running unless its pid is gone or a zombie (this machine's pid 1 may not reap it)
pid="$(cat "$PREFIX/var/run/termux-services.pid" 2>/dev/null)"
state="$(cut -d' ' -f3 "/proc/${pid:-none}/stat" 2>/dev/null)"
if [ -z "$state" ] || [ "$state" = Z ]; then
  (cd / && exec runsvdir -P "$SVDIR") </dev/null >/dev/null 2>&1 &
  echo $! > "$PREFIX/var/run/termux-services.pid"
fi
EOS
      ;;
    termux-api) cp "$STANDINS"/termux-* "$PREFIX/bin/" ;;
    cloudflared) cp "$STANDINS/cloudflared" "$PREFIX/bin/" ;;
  esac
done
"""

# Stand-in for the tunnel client: notes how it was started, then stays up like a tunnel.
CLOUDFLARED = """#!/usr/bin/env bash
echo "cloudflared $*" >> "$PREFIX/../cloudflared.log"
exec sleep 100000
"""

WAKE_LOCK = """#!/usr/bin/env bash
echo "wake-lock" >> "$PREFIX/../wake-lock.log"
"""


class Termux:
    """A fresh Termux: $PREFIX with a shell and termux-wake-lock (termux-tools ships with Termux), an
    empty $HOME, `pkg`; everything else comes from the installer."""

    def __init__(self, root, sms_log, gateway_id):
        self.root = Path(root)
        self.prefix = self.root / "usr"
        self.home = self.root / "home"
        self.standins = self.root / "standins"
        for d in (self.prefix / "bin", self.prefix / "tmp", self.home, self.standins):
            d.mkdir(parents=True)
        os.symlink("/bin/sh", self.prefix / "bin/sh")
        os.symlink("/bin/bash", self.prefix / "bin/bash")
        self._script(self.prefix / "bin/pkg", PKG)
        self._script(self.prefix / "bin/termux-wake-lock", WAKE_LOCK)
        self._script(self.standins / "termux-sms-send", RECORDER)
        self._script(self.standins / "termux-sms-list", LISTER)
        for program, (control, default) in READINGS.items():
            self._script(self.standins / program,
                         f"#!/usr/bin/env bash\nif [ -f \"$PHONE_DIR/{control}\" ]; then cat \"$PHONE_DIR/{control}\"; else echo '{default}'; fi\n")
        self._script(self.standins / "cloudflared", CLOUDFLARED)
        phone_dir = self.root / "phone"
        phone_dir.mkdir()
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM", "USER", "LOGNAME")}
        self.env = {**keep, "PREFIX": str(self.prefix), "HOME": str(self.home), "PATH": f"{self.prefix}/bin:/usr/bin:/bin",
                    "STANDINS": str(self.standins), "SMS_LOG": str(sms_log), "PHONE_DIR": str(phone_dir),
                    "PHONE_GATEWAY_ID": gateway_id, "SMS_INBOX": str(phone_dir / "inbox.json"),
                    "INSTALL_HEALTH_SECS": HEALTH_SECS}
        self.svdir = self.prefix / "var/service"
        self.gateway_home = self.home / ".phone-gateway"

    @staticmethod
    def _script(path, text):
        path.write_text(text)
        path.chmod(0o755)

    def sh(self, command, timeout=180, **extra):
        import subprocess

        return subprocess.run(["bash", "-c", command], env={**self.env, **extra}, cwd=self.home, capture_output=True,
                              text=True, timeout=timeout)

    def one_liner(self, release_url, *args):
        """The documented install: the release's install.sh piped into bash (no file, no clone)."""
        return self.sh(f"set -o pipefail; curl -fsSL {release_url}/install.sh | bash -s -- " + " ".join(args))

    def log(self, name):
        p = self.root / name
        return p.read_text() if p.exists() else ""

    def sv(self, *args):
        return self.sh("sv " + " ".join(args), SVDIR=str(self.svdir))

    def service_pid(self, name):
        """The pid runsv reports for service `name` (None: not running)."""
        try:
            return int((self.svdir / name / "supervise/pid").read_text().strip() or 0) or None
        except (FileNotFoundError, ValueError):
            return None

    def processes(self):
        """Pids of the processes started from this Termux (their command line names its prefix)."""
        pids = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit() or int(p.name) == os.getpid():
                continue
            try:
                cmdline = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if str(self.prefix).encode() in cmdline or str(self.gateway_home).encode() in cmdline:
                pids.append(int(p.name))
        return pids

    def runsvdirs(self):
        return [pid for pid in self.processes() if b"runsvdir" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]]

    def power_off(self):
        """What a phone's power-off does to Termux: its service daemon and services end. runsvdir on
        SIGHUP sends TERM to each runsv, which stops its service and exits."""
        for pid in self.runsvdirs():
            os.kill(pid, signal.SIGHUP)
        deadline = time.time() + 15
        while self.processes() and time.time() < deadline:
            time.sleep(0.2)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_health(url, version=None, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = requests.get(url + "/health", timeout=2).json()
            if last.get("status") == "ok" and (version is None or last.get("version") == version):
                return last
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url}/health: no ok answer{' with version ' + version if version else ''} within {timeout}s; last {last}")


def release_set(root, binary, version_of=None):
    """A release directory: `binary` as the x86_64 asset, an install.sh and SHA256SUMS."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(binary, root / ASSET)
    (root / ASSET).chmod(0o755)
    shutil.copy(Path(binary).parent / "install.sh", root / "install.sh")
    sums = "".join(f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}\n" for n in (ASSET, "install.sh"))
    (root / "SHA256SUMS").write_text(sums)
    return root


def send_otp_through(stack, phone_number):
    t = tenant_on(stack, settings={"template": "Code [{code}]", "code_type": "digits"})
    r = t.post("/v1/otp/send", json={"phone": phone_number})
    assert r.status_code == 202, r.text
    delivery = r.json()["data"]["delivery"]
    text = stack.sms.wait_for(phone_number, timeout=30)
    eventually(lambda: t.get(f"/v1/messages/{delivery['message_id']}").json()["data"],
               lambda m: m["state"] == "sent", "the delivery report", timeout=30, every=0.3)
    code = text[text.index("[") + 1:text.index("]")]
    r = t.post("/v1/otp/verify", json={"phone": phone_number, "code": code})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
    return delivery


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """v1 (the test build), v2 (the same sources with another version string) and a broken one."""
    base = tmp_path_factory.mktemp("releases")
    v1 = gateway_dist(["x86_64"], out=base / "build-v1")
    v2 = gateway_dist(["x86_64"], version=NEXT_VERSION, out=base / "build-v2")
    broken = base / "broken-binary"
    # It runs (so it passes the installer's first check) but never serves.
    broken.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'phone-gateway 9.9.9'; exit 0; }\necho 'broken build' >&2\nexit 1\n")
    broken.chmod(0o755)
    shutil.copy(v1 / "install.sh", base / "install.sh")
    sets = {
        "v1": release_set(base / "v1", v1 / ASSET),
        "v2": release_set(base / "v2", v2 / ASSET),
        "broken": release_set(base / "broken", broken),
    }
    host = ReleaseHost(sets["v1"])
    yield host, sets
    host.close()


@pytest.fixture(scope="module")
def installed(release, tmp_path_factory):
    """A fresh Termux installed with the one-liner, and the stack that uses it as its phone."""
    host, sets = release
    root = tmp_path_factory.mktemp("termux")
    worker_port, gateway_port = free_port(), free_port()
    sms_log = root / "sms.log"
    termux = Termux(root / "phone-root", sms_log, "phone-t")
    started = time.time()
    done = termux.one_liner(host.url, "--gateway-id", "phone-t", "--edge", f"http://127.0.0.1:{worker_port}",
                            "--listen", f"127.0.0.1:{gateway_port}", "--release-url", host.url)
    took = time.time() - started
    print(f"\ninstall.sh (download, checks, services, health) took {took:.1f} s")
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        secret = (termux.gateway_home / "secret").read_text().strip()
        stack = Stack(gateways=0, worker_vars=SUITE_WORKER_VARS, worker_port=worker_port,
                      external_gateways=[{"id": "phone-t", "url": f"http://127.0.0.1:{gateway_port}", "secret": secret}])
        stack.sms.log = sms_log
        for s in running(stack):
            yield {"termux": termux, "stack": s, "out": done.stdout, "url": f"http://127.0.0.1:{gateway_port}", "host": host, "sets": sets}
    finally:
        termux.power_off()


def test_one_line_install_on_a_fresh_termux_sends_an_otp(installed, new_phone):
    termux, stack, out = installed["termux"], installed["stack"], installed["out"]
    # it fetched this CPU's binary and checked it, from the release only
    assert "verified phone-gateway-linux-x86_64" in out and "verified install.sh" in out, out
    assert set(installed["host"].requests) >= {"/latest/SHA256SUMS", f"/latest/{ASSET}", "/latest/install.sh"}
    assert "pkg install -y termux-api termux-services curl cloudflared" in termux.log("pkg.log")
    # no compiler was involved: nothing but the packages above was asked for
    assert "rust" not in termux.log("pkg.log")
    # services run now, under real runit, without restarting Termux
    status = termux.sv("status", "phone-gateway", "phone-tunnel")
    assert [line[:5] for line in status.stdout.splitlines()] == ["run: ", "run: "], status.stdout + status.stderr
    assert "tunnel --no-autoupdate --url http://127.0.0.1:" in termux.log("cloudflared.log")
    assert termux.runsvdirs(), "no service daemon runs"
    assert termux.log("wake-lock.log"), "no wake lock was taken"
    boot = termux.home / ".termux/boot/otp-sms-gateway"
    assert boot.exists() and os.access(boot, os.X_OK)
    assert (termux.gateway_home / "install.sh").exists(), "the installer was not kept for updates"
    # the gateway answers and the stack sends a real OTP through it, with the report back
    assert wait_health(installed["url"])["version"] == "0.1.0"
    send_otp_through(stack, new_phone())


def test_rerun_is_safe_and_keeps_the_running_gateway(installed):
    termux, host = installed["termux"], installed["host"]
    secret = (termux.gateway_home / "secret").read_text()
    pid = termux.service_pid("phone-gateway")
    config = (termux.gateway_home / "gateway.toml").read_text()
    done = termux.sh(f"bash {termux.gateway_home}/install.sh --gateway-id phone-t --release-url {host.url} --listen {installed['url'][7:]}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already this release's" in done.stdout, done.stdout
    assert (termux.gateway_home / "secret").read_text() == secret
    assert (termux.gateway_home / "gateway.toml").read_text() == config
    assert termux.service_pid("phone-gateway") == pid, "an unchanged binary was restarted"
    assert len(termux.runsvdirs()) == 1, "a second service daemon was started"


def test_after_a_reboot_termux_boot_starts_the_gateway_and_the_tunnel(installed, new_phone):
    termux = installed["termux"]
    termux.power_off()
    with pytest.raises(requests.RequestException):
        requests.get(installed["url"] + "/health", timeout=2)
    # Termux:Boot runs the script with Termux's environment after the phone boots
    done = termux.sh(f"{termux.home}/.termux/boot/otp-sms-gateway")
    assert done.returncode == 0, done.stdout + done.stderr
    wait_health(installed["url"])
    deadline = time.time() + 15
    while termux.service_pid("phone-tunnel") is None and time.time() < deadline:
        time.sleep(0.2)
    assert termux.service_pid("phone-tunnel"), "the tunnel did not come back"
    send_otp_through(installed["stack"], new_phone())


def test_update_swaps_restarts_and_rolls_back_a_broken_release(installed, new_phone):
    termux, host, sets = installed["termux"], installed["host"], installed["sets"]
    updater = f"bash {termux.gateway_home}/install.sh --update"
    # nothing new: nothing done
    done = termux.sh(updater)
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr

    host.root = sets["v2"]
    done = termux.sh(updater)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"updated: 0.1.0 -> {NEXT_VERSION}" in done.stdout, done.stdout
    assert wait_health(installed["url"])["version"] == NEXT_VERSION
    send_otp_through(installed["stack"], new_phone())

    # a release that does not come up is rolled back to the binary that worked
    host.root = sets["broken"]
    done = termux.sh(updater)
    assert done.returncode == 5, done.stdout + done.stderr
    assert f"rolled back to {NEXT_VERSION}" in done.stderr, done.stdout + done.stderr
    assert wait_health(installed["url"])["version"] == NEXT_VERSION
    assert termux.sh(f"{termux.prefix}/bin/phone-gateway --version").stdout.split()[-1] == NEXT_VERSION

    # a download that does not match SHA256SUMS is refused and changes nothing
    tampered = sets["broken"].parent / "tampered"
    shutil.copytree(sets["v1"], tampered)
    data = bytearray((tampered / ASSET).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tampered / ASSET).write_bytes(bytes(data))
    host.root = tampered
    pid = termux.service_pid("phone-gateway")
    done = termux.sh(updater)
    assert done.returncode == 4 and "SHA-256 mismatch" in done.stderr, done.stdout + done.stderr
    assert termux.service_pid("phone-gateway") == pid
    assert wait_health(installed["url"])["version"] == NEXT_VERSION
    send_otp_through(installed["stack"], new_phone())


def test_the_scheduled_update_check_is_off_by_default_and_updates_when_on(installed):
    termux, host, sets = installed["termux"], installed["host"], installed["sets"]
    assert not (termux.svdir / "phone-gateway-update").exists(), "the scheduled check is on by default"
    host.root = sets["v2"]
    done = termux.sh(f"bash {termux.gateway_home}/install.sh --gateway-id phone-t --release-url {host.url} --listen {installed['url'][7:]} --auto-update on",
                     UPDATE_EVERY_SECS="2")
    assert done.returncode == 0, done.stdout + done.stderr
    # a newer release appears: the phone takes it on its own
    host.root = sets["v1"]
    assert wait_health(installed["url"], version="0.1.0", timeout=60)
    done = termux.sh(f"bash {termux.gateway_home}/install.sh --gateway-id phone-t --release-url {host.url} --listen {installed['url'][7:]} --auto-update off")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (termux.svdir / "phone-gateway-update").exists()


def test_a_tampered_download_is_refused_and_leaves_nothing(release, tmp_path):
    host, sets = release
    tampered = tmp_path / "tampered"
    shutil.copytree(sets["v1"], tampered)
    data = bytearray((tampered / ASSET).read_bytes())
    data[100] ^= 0xFF
    (tampered / ASSET).write_bytes(bytes(data))
    own = ReleaseHost(tampered)
    try:
        termux = Termux(tmp_path / "phone-root", tmp_path / "sms.log", "phone-x")
        done = termux.one_liner(own.url, "--release-url", own.url)
        assert done.returncode == 4, done.stdout + done.stderr
        assert "SHA-256 mismatch" in done.stderr and "nothing was installed" in done.stderr, done.stderr
        assert not (termux.prefix / "bin/phone-gateway").exists()
        assert not termux.gateway_home.exists() and not (termux.prefix / "var/service").exists()
        assert termux.log("pkg.log") == "", "packages were installed before the download was checked"
        assert list((termux.prefix / "tmp").iterdir()) == [], "the download was left behind"
        assert not termux.processes()
    finally:
        own.close()


def test_without_a_release_the_installer_says_what_to_pass(tmp_path):
    termux = Termux(tmp_path / "phone-root", tmp_path / "sms.log", "phone-y")
    done = termux.sh(f"bash {Path(__file__).resolve().parents[2] / 'install.sh'}")
    assert done.returncode == 2 and "--release-url" in done.stderr, done.stderr
    assert not termux.gateway_home.exists() and termux.log("pkg.log") == ""
