# Sourced (not run) by the scripts that need Python tools from PyPI: scripts/test.sh
# (openapi-spec-validator, dcclib, signxml and pyhanko for the tests' document checks) and
# scripts/schemathesis.sh (schemathesis).
#
#   source scripts/python-tools.sh
#   python_tools openapi-spec-validator dcclib lxml signxml pyhanko
#
# python_tools installs the packages into one virtual environment, target/python-tools
# (CALTRACE_PYTHON_TOOLS to put it elsewhere): Debian's python3 refuses a plain
# `pip install` (PEP 668, externally managed), and a venv needs no root. Installs
# python3 and python3-venv with apt when missing. Then exports CALTRACE_PYTHON, the
# venv's python, which the Rust tests run their checkers with (tests/tools/python.rs),
# and appends the venv's bin/ to PATH for command-line tools such as schemathesis' `st`
# (appended: `python3` stays the system's). Packages already installed are not
# fetched again; they are not pinned, so new releases (new DCC rules) reach the suite.

python_tools() {
  local venv=${CALTRACE_PYTHON_TOOLS:-$PWD/target/python-tools}
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "== installing python3 and python3-venv"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      python3 python3-venv
  fi
  if [ ! -x "$venv/bin/python" ]; then
    echo "== creating a Python environment for test tools in $venv"
    python3 -m venv "$venv"
  fi
  if [ $# -gt 0 ]; then
    echo "== Python tools: $*"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  fi
  export CALTRACE_PYTHON="$venv/bin/python"
  case ":$PATH:" in
    *":$venv/bin:"*) ;;
    *) export PATH="$PATH:$venv/bin" ;;
  esac
}
