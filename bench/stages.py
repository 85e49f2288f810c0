"""Where the front's CPU goes, per stage: a V8 CPU profile of the worker's isolate taken through
workerd's inspector (`workerd serve --inspector-addr`) while the bench's load runs, its samples
attributed to the stage of the request pipeline they were in.

A sample's stage is that of the innermost frame on its stack that belongs to a stage (the worker's
own modules, `otp_edge::...`): a `serde_json` or `sha2` leaf counts for the stage that called it.
Library code is listed separately by what it is (the "by code" view: self time of the leaf frame).
Frames are named from the wasm's name section: scripts/build-worker.sh keeps the optimised
module's names in build/index_bg.names.json (function index -> name), since the shipped module has
none. V8's own time inside the isolate is `(program)` and `(garbage collector)`; what the profile
cannot see (workerd's C++ HTTP server, sockets and subrequests, outside any isolate) is the front's
process CPU over the same window less the isolate's sampled time.

The profiler samples every 100 us; its overhead makes the profiled window slower than a measured
run, so the table gives each stage's share and scales it to the measured run's front CPU per
request (the shares are what the profile knows; the totals come from /proc)."""

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import aiohttp

# Stage rules, matched against a frame's (demangled) name; the first rule a frame matches names it.
STAGES = [
    ("request log line", [r"otp_edge::api::pipeline::log\b"]),
    ("usage & analytics counters", [r"otp_edge::service::ops::(usage|analytics|metrics)", r"::usage::"]),
    ("idempotency", [r"otp_edge::api::idempotency"]),
    ("auth & key cache", [r"otp_edge::service::tenants::auth", r"otp_edge::api::auth", r"otp_edge::service::secrets"]),
    ("Durable Object calls (gate, tally: stub fetch, body)", [r"WorkerPlatform as otp_edge::platform::Platform>::(gate|tally)"]),
    ("outbound fetch (Firestore REST, the phone: Request, Headers, body)", [r"otp_edge::wasm::fetch"]),
    ("limits & admission (gate DO client)", [r"otp_edge::service::tenants::(admission|gate|later)", r"otp_edge::wasm::gate"]),
    ("Firestore store (value encoding, REST calls)", [r"otp_edge::store::", r"otp_edge::service::repo::"]),
    ("gateway hand-off (dispatch, signing)", [r"otp_edge::service::(messaging|fleet)::", r"otp_shared::wire"]),
    ("fraud & destination checks", [r"otp_edge::service::abuse::"]),
    ("OTP rules (code, text, hmac, sealing)", [r"otp_edge::service::(otp|sealing|model)", r"otp_shared::(otp|templates|words|sms)"]),
    ("request parsing (body, phone)", [r"otp_edge::api::(body|http)", r"otp_shared::phone", r"otp_edge::api::handlers"]),
    ("response rendering", [r"otp_edge::api::(render|cors)"]),
    ("routing & pipeline", [r"otp_edge::api::(pipeline|routes)", r"otp_edge::service::(ctx|later)"]),
    ("async runtime (promise callbacks, wakes, microtasks)", [r"wasm_bindgen_futures"]),
    ("platform glue (wasm <-> JS)", [r"otp_edge::wasm::", r"otp_edge::platform", r"wasm_bindgen", r"worker::", r"js_sys", r"web_sys"]),
]

# The by-code view: what the leaf frame is.
CODE = [
    ("serde_json", [r"serde_json", r"serde::"]),
    ("hashing & crypto (sha2, hmac, hkdf, chacha20poly1305, base64, hex)",
     [r"sha2", r"hmac", r"hkdf", r"chacha", r"poly1305", r"digest::", r"base64", r"hex::", r"subtle"]),
    ("allocator & memcpy", [r"dlmalloc", r"^memcpy$", r"^memmove$", r"^memset$", r"^memcmp$", r"alloc::", r"__rust_(alloc|dealloc|realloc)"]),
    ("fmt (format!, Debug, Display)", [r"core::fmt", r"alloc::fmt"]),
    ("wasm-bindgen glue", [r"wasm_bindgen", r"js_sys", r"web_sys", r"__wbg", r"__wbindgen"]),
    ("worker's own code", [r"otp_edge", r"otp_shared"]),
    ("other Rust libraries", [r"::"]),
]

V8_SPECIAL = {"(program)": "V8: (program) (native work inside the isolate)", "(garbage collector)": "V8: garbage collector"}


def _compile(rules):
    return [(name, re.compile("|".join(pats))) for name, pats in rules]


_STAGES, _CODE = _compile(STAGES), _compile(CODE)


class Profile:
    """A taken profile: nodes by id, each with its parent, and the time each node was sampled."""

    def __init__(self, profile, names):
        self.nodes = {n["id"]: n for n in profile["nodes"]}
        self.parent = {}
        for n in profile["nodes"]:
            for c in n.get("children", []):
                self.parent[c] = n["id"]
        self.self_us = Counter()
        for node_id, dt in zip(profile["samples"], profile["timeDeltas"]):
            self.self_us[node_id] += max(0, dt)
        self.names = names

    def name(self, node_id):
        f = self.nodes[node_id]["callFrame"]
        fn = f.get("functionName") or ""
        m = re.fullmatch(r"\$?(?:func|wasm-function\[)(\d+)\]?", fn)
        if m and self.names:
            return self.names.get(int(m.group(1)), fn)
        if not fn:
            return f"(anonymous JS, {Path(f['url']).name})" if f.get("url") else "(anonymous)"
        return fn

    def is_js(self, node_id):
        url = self.nodes[node_id]["callFrame"].get("url", "")
        return url.endswith(".js") or url.endswith(".mjs")

    def stacks(self):
        """(stack of names, leaf first; JS flag of the leaf; microseconds) for every sampled node."""
        for node_id, us in self.self_us.items():
            stack, cur = [], node_id
            while cur is not None:
                stack.append(self.name(cur))
                cur = self.parent.get(cur)
            yield stack, self.is_js(node_id), us


def classify(profile):
    """(stage -> us, code -> us, leaf function -> us, idle us) of a profile."""
    stages, code, leaves, idle = Counter(), Counter(), Counter(), 0
    for stack, js, us in profile.stacks():
        leaf = stack[0]
        if leaf == "(idle)":
            idle += us
            continue
        if leaf in V8_SPECIAL:
            stages[V8_SPECIAL[leaf]] += us
            code[V8_SPECIAL[leaf]] += us
            continue
        leaves[leaf] += us
        stage = next((s for frame in stack for s, rx in _STAGES if rx.search(frame)), None)
        stages[stage or ("JS (workerd's runtime, the bindgen shim)" if js else "other (unattributed)")] += us
        if js:
            code["JS (the shim, workerd's JS APIs)"] += us
        else:
            code[next((c for c, rx in _CODE if rx.search(leaf)), "other wasm")] += us
    return stages, code, leaves, idle


async def _take(ws_url, seconds_fn):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(ws_url, max_msg_size=0) as ws:
            ids = iter(range(1, 1_000_000))

            async def call(method, params=None):
                i = next(ids)
                await ws.send_json({"id": i, "method": method, "params": params or {}})
                while True:
                    msg = await ws.receive_json()
                    if msg.get("id") == i:
                        if "error" in msg:
                            raise RuntimeError(f"{method}: {msg['error']}")
                        return msg.get("result", {})

            await call("Profiler.enable")
            await call("Profiler.setSamplingInterval", {"interval": 100})
            await call("Profiler.start")
            result = await asyncio.get_running_loop().run_in_executor(None, seconds_fn)
            prof = (await call("Profiler.stop"))["profile"]
            await call("Profiler.disable")
            return prof, result


def profile_during(inspector_port, load):
    """Runs `load()` (blocking) under a CPU profile of the worker's isolate; returns (profile, load's result)."""
    import requests

    targets = requests.get(f"http://127.0.0.1:{inspector_port}/json/list", timeout=10).json()
    if not targets:
        raise RuntimeError("workerd's inspector lists no isolate")
    # One worker in the config: its isolate (the Durable Object runs in it too).
    ws_url = targets[0]["webSocketDebuggerUrl"]
    if ws_url.startswith("ws:///"):
        ws_url = f"ws://127.0.0.1:{inspector_port}/" + ws_url[len("ws:///"):]
    return asyncio.run(_take(ws_url, load))


def load_names(path):
    try:
        # Without the crates' disambiguators: `otp_edge[0123abcd]::store` -> `otp_edge::store`.
        return {int(k): re.sub(r"\[[0-9a-f]+\]", "", v) for k, v in json.loads(Path(path).read_text()).items()}
    except (OSError, ValueError):
        return {}
