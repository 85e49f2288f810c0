"""Deploying: which compiler builds the worker (scripts/build-worker.sh picks rustup's wasm32 target
where it is installed, Debian's rustc-web otherwise), that the scripts stay portable, and that the
deploy check (scripts/deploy-check.sh, run by scripts/test.sh) refuses a broken wrangler.toml.

The rustup here is a stand-in script on PATH that answers `rustup target list --installed` (this
machine's rustup cannot download the wasm32 target); everything after that answer is the real script."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def plan(tmp_path, installed=None, env=None):
    """`build-worker.sh --plan` with a fake rustup that lists `installed` (None: no rustup at all)."""
    home = tmp_path / "home"
    fake = tmp_path / "fakebin"
    fake.mkdir(exist_ok=True)
    (home / ".cargo/bin").mkdir(parents=True, exist_ok=True)
    if installed is not None:
        rustup = fake / "rustup"
        # Many lines after the match: a reader that stops at the first match would kill the writer
        # with SIGPIPE, which under pipefail hides the target.
        lines = "\n".join(installed + [f"padding-target-{i}" for i in range(50000) if installed])
        rustup.write_text(f"#!/bin/sh\nif [ \"$1 $2 $3\" = 'target list --installed' ]; then\nexec cat <<'EOF'\n{lines}\nEOF\nfi\nexit 1\n")
        rustup.chmod(0o755)
        # rustup's cargo shim sits beside it.
        (fake / "cargo").write_text("#!/bin/sh\nexit 0\n")
        (fake / "cargo").chmod(0o755)
    # HOME elsewhere: lib.sh puts ~/.cargo/bin (the real rustup) on PATH.
    e = {"HOME": str(home), "PATH": f"{fake}:/usr/bin:/bin", **(env or {})}
    r = subprocess.run(["bash", str(ROOT / "scripts/build-worker.sh"), "--plan"], env=e, capture_output=True, text=True, timeout=30)
    return r


def fields(r):
    assert r.returncode == 0, r.stderr
    return dict(line.split(": ", 1) for line in r.stdout.splitlines())


def test_rustup_target_is_used_where_installed(tmp_path):
    p = fields(plan(tmp_path, ["x86_64-unknown-linux-gnu", "wasm32-unknown-unknown"]))
    assert p["route"] == "rustup", p
    # Stable flags only: no std from source, no nightly features on a stable compiler.
    assert "build-std" not in p["command"] and "RUSTC_BOOTSTRAP" not in p["command"], p
    assert "-u RUSTC" in p["command"], p
    assert p["cargo"] == str(tmp_path / "fakebin/cargo"), p


def test_debian_route_without_the_wasm32_target(tmp_path):
    for installed in (["x86_64-unknown-linux-gnu"], None):
        p = fields(plan(tmp_path, installed))
        assert p["route"] == "debian", (installed, p)
        assert "-Zbuild-std=std,panic_abort" in p["command"] and "RUSTC_BOOTSTRAP=1" in p["command"], p
        assert p["cargo"] == "/usr/bin/cargo"


def test_route_can_be_forced_and_a_wrong_value_is_refused(tmp_path):
    p = fields(plan(tmp_path, ["wasm32-unknown-unknown"], {"OTP_SMS_WASM_ROUTE": "debian"}))
    assert p["route"] == "debian"
    p = fields(plan(tmp_path, None, {"OTP_SMS_WASM_ROUTE": "rustup"}))
    assert p["route"] == "rustup"
    r = plan(tmp_path, None, {"OTP_SMS_WASM_ROUTE": "nightly"})
    assert r.returncode != 0 and "must be rustup or debian" in r.stderr, r


# GNU-only spellings that break on macOS/BSD (use lib.sh's sha256 and file_size instead).
GNU_ONLY = [r"\bstat -c\b", r"\bsha256sum\b(?! \"\$@\")", r"\breadlink -f\b", r"\bsed -i\b", r"\bdate -d\b", r"\bgrep -P\b", r"\bfind [^|]*-printf\b"]


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("*.sh")))
def test_build_scripts_are_portable(script):
    text = (ROOT / "scripts" / script).read_text()
    if script == "lib.sh":
        text = re.sub(r"^sha256\(\).*$", "", text, flags=re.M)
    found = [pat for pat in GNU_ONLY if re.search(pat, text)]
    assert not found, f"{script} uses GNU-only {found}"


def deploy_check(tmp_name, edit=None):
    """scripts/deploy-check.sh on wrangler.toml changed by `edit` (written beside the build, so
    `main` still points at it)."""
    text = (ROOT / "wrangler.toml").read_text().replace('main = "build/worker/shim.mjs"', 'main = "worker/shim.mjs"')
    cfg = ROOT / "build" / tmp_name
    cfg.write_text(edit(text) if edit else text)
    try:
        return subprocess.run(["bash", str(ROOT / "scripts/deploy-check.sh"), str(cfg)], capture_output=True, text=True, timeout=300)
    finally:
        cfg.unlink()


@pytest.fixture(scope="module")
def built():
    if not (ROOT / "build/worker/shim.mjs").exists():
        pytest.skip("the worker is not built (scripts/build-worker.sh)")


def test_the_deploy_check_passes_the_real_config(built):
    r = deploy_check("wrangler-ok.toml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deploy check:" in r.stdout, r.stdout


def test_the_deploy_check_refuses_a_migration_history_a_fresh_account_cannot_apply(built):
    # The binding's class never created (its migration dropped): wrangler's dry run says nothing.
    r = deploy_check("wrangler-broken.toml", lambda t: re.sub(
        r'\[\[migrations\]\]\ntag = "v2"\nnew_sqlite_classes = \["Gate"\]\ndeleted_classes = \["Limiter"\]\n', "", t))
    assert r.returncode != 0
    assert "Durable Object class Gate is bound but no migration creates it" in r.stderr, r.stderr
    # A class deleted that never was (wrangler refuses it too; both are reported).
    r = deploy_check("wrangler-broken2.toml", lambda t: t + '\n[[migrations]]\ntag = "v9"\ndeleted_classes = ["Nope"]\n')
    assert r.returncode != 0
    assert "deletes Nope, which no earlier migration created" in r.stderr, r.stderr
    assert "wrangler deploy --dry-run failed" in r.stderr


def test_the_deploy_check_refuses_an_unknown_warning(built):
    # A misspelt setting wrangler warns about and ignores: any warning not known to be harmless fails.
    r = deploy_check("wrangler-warn.toml", lambda t: t.replace('compatibility_date', 'compatibility_flag = ["x"]\ncompatibility_date', 1))
    assert r.returncode != 0 and "wrangler said:" in r.stderr and "compatibility_flag" in r.stderr, r.stdout + r.stderr


def test_the_deploy_check_refuses_a_bad_cron(built):
    r = deploy_check("wrangler-cron.toml", lambda t: t.replace('crons = ["*/5 * * * *"', 'crons = ["*/5 * * *"'))
    assert r.returncode != 0 and "is not five fields" in r.stderr, r.stderr


def test_every_file_the_deploy_guide_names_exists_and_firebase_json_points_at_them():
    import json
    text = (ROOT / "docs/deploy.md").read_text()
    named = set(re.findall(r"`((?:scripts/)?[\w.-]+\.(?:json|rules|toml|sh))`", text))
    assert {"firebase.json", "firestore.rules", "firestore.indexes.json", "wrangler.toml", "install.sh"} <= named, named
    missing = [f for f in named if f not in ("sa.json",) and not (ROOT / f).exists()]
    assert not missing, missing
    fb = json.loads((ROOT / "firebase.json").read_text())["firestore"]
    assert (ROOT / fb["rules"]).exists() and (ROOT / fb["indexes"]).exists()
    # Every composite index the queries need: the ten of the lists and retries, and the message
    # log's four (one per filter field, newest first).
    assert len(json.loads((ROOT / fb["indexes"]).read_text())["indexes"]) == 14
    # Deny-all: the only rule allows nothing.
    rules = (ROOT / fb["rules"]).read_text()
    assert re.findall(r"allow [^;]+;", rules) == ["allow read, write: if false;"], rules
