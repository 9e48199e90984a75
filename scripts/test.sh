#!/usr/bin/env bash
# Runs every test caltrace has, on SQLite and then on a throwaway PostgreSQL.
# Installs the system packages the suite needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_packages+=(postgresql)
command -v xmllint >/dev/null 2>&1 || need_packages+=(libxml2-utils)
command -v pdftotext >/dev/null 2>&1 || need_packages+=(poppler-utils)
command -v qpdf >/dev/null 2>&1 || need_packages+=(qpdf)
# Signed DCCs are verified by xmlsec1 (tests/integration/signing.rs, src/dcc/tests.rs).
command -v xmlsec1 >/dev/null 2>&1 || need_packages+=(xmlsec1)
# PKCS#12 files for `keys import --pkcs12` are made by openssl (tests/integration/signing.rs).
command -v openssl >/dev/null 2>&1 || need_packages+=(openssl)
# The README walk (tests/integration/readme.rs) runs its curl and jq commands as written.
command -v jq >/dev/null 2>&1 || need_packages+=(jq)
command -v curl >/dev/null 2>&1 || need_packages+=(curl)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "== installing ${need_packages[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_packages[@]}"
fi

# --- Python checkers the Rust tests run (tests/tools/checkers.rs) -------------------------
# openapi-spec-validator on the served OpenAPI document; PTB's dcclib (with lxml) for its DCC
# schematron on every DCC the tests produce; signxml's XAdES verifier on signed DCCs
# (tests/tools/xades_verify.py); pyHanko's PAdES validation on signed certificate PDFs
# (tests/tools/pades_verify.py). Installed into target/python-tools, a venv
# (Debian's python3 refuses a plain pip install); the tests run them with $CALTRACE_PYTHON.
source scripts/python-tools.sh
python_tools openapi-spec-validator dcclib lxml signxml pyhanko
# ------------------------------------------------------------------------------------------

# A throwaway PostgreSQL cluster; durability off, it only has to be fast.
source scripts/pg.sh
start_throwaway_pg "${CALTRACE_PG_PORT:-55432}" fsync=off synchronous_commit=off full_page_writes=off

# The document tests (DCC schema and PTB rules, PDF text and structure, OpenAPI validity)
# must not skip here.
export CALTRACE_REQUIRE_TOOLS=1

echo "== tests on SQLite"
cargo test --all-targets
cargo test --doc

echo "== tests on PostgreSQL"
CALTRACE_TEST_DATABASE_URL="$PG_URL" cargo test --test integration

echo "== pages end to end in headless Chromium"
scripts/e2e.sh

echo "== API conformance (schemathesis against the OpenAPI document)"
scripts/schemathesis.sh

# --- measurement models against the GUM Tree Calculator (DESIGN 5b) -------------------------
# A few hundred generated models: estimate, u_c, ν_eff and sensitivities to 1e-9 relative.
echo "== measurement models against GTC (tests/gtc_differential.py)"
python_tools "gtc==1.5.1"
"$CALTRACE_PYTHON" tests/gtc_differential.py --cases 300
# --- end of the GTC block -------------------------------------------------------------------

echo "== all tests passed on SQLite and PostgreSQL; pages pass in Chromium; schemathesis found nothing"
