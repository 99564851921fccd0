# Shared by scripts/test, scripts/tour and scripts/astra-local. Source it; do not run it.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ASTRA_LOCAL_DIR="${ASTRA_LOCAL_DIR:-$REPO_ROOT/.astra-local}"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages that are missing (as root, or with sudo when available).
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    say "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building and running the workspace needs beyond a Rust toolchain:
# protoc (the pulsar crate's build script), Java 17 and Maven (Cassandra and Pulsar of the
# local stack), Python's venv (the independent DataStax Python driver used by the tests), Node.js
# and npm (Prism, the stack's DevOps API contract server; Debian 12's nodejs 18.20 is new enough).
ensure_prerequisites() {
    command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs) first"
    local pkgs=()
    command -v protoc >/dev/null || pkgs+=(protobuf-compiler)
    command -v mvn >/dev/null || pkgs+=(maven)
    [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || java -version 2>&1 | grep -q '"17\.' || pkgs+=(openjdk-17-jre-headless)
    command -v python3 >/dev/null || pkgs+=(python3)
    python3 -m venv --help >/dev/null 2>&1 || pkgs+=(python3-venv)
    command -v ss >/dev/null || pkgs+=(iproute2)
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
    [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}"
}

astra_local() { "$REPO_ROOT/scripts/astra-local" "$@"; }

# True when .env holds real Astra credentials (then the tour targets Astra, not the local stack).
env_has_astra_credentials() {
    [ -f "$REPO_ROOT/.env" ] || return 1
    grep -Eq '^[[:space:]]*(export[[:space:]]+)?ASTRA_DB_APPLICATION_TOKEN=["'"'"']?AstraCS:' "$REPO_ROOT/.env" || return 1
    grep -Eq '^[[:space:]]*(export[[:space:]]+)?(ASTRA_DB_SECURE_BUNDLE_PATH|ASTRA_DB_ID)=[^[:space:]]' "$REPO_ROOT/.env"
}
