#!/usr/bin/env bash
# Idempotent installer for the editor-extension end-to-end test (code-server + Chromium + playwright-core).
#
#   editor-extension/scripts/install-e2e-deps.sh
#
# Installs, reusing whatever is already present:
#   apt : chromium (headless browser), libkrb5-dev (gssapi headers for code-server's `kerberos` module),
#         make/g++/python3 (node-gyp), ca-certificates
#   npm : code-server@4.100.3 into $GORILLA_E2E_DIR/code-server (default editor-extension/.e2e/code-server),
#         the extension's own devDependencies (npm ci), which include playwright-core (no browser download).
# Requires Node.js >= 20 (code-server 4.100.3 runs on Node 20; newer code-server versions need Node 24).
# Offline-safe apart from the apt/npm registries: ripgrep's GitHub download is replaced by a pre-seeded cache.
set -euo pipefail

EXT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E_DIR="${GORILLA_E2E_DIR:-$EXT_DIR/.e2e}"
CS_VERSION="${CODE_SERVER_VERSION:-4.100.3}"
CS_DIR="$E2E_DIR/code-server"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"
RG_PKG_VERSION="1.18.0"            # @vscode/ripgrep-linux-x64 (ships an rg binary in the npm tarball)
RG_CACHE_NAME="vscode-ripgrep-cache-1.15.11"
RG_TARBALL="ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"

log() { printf '[install-e2e-deps] %s\n' "$*" >&2; }
t_start=$(date +%s)

# ---- Node ------------------------------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "ERROR: node/npm not found; install Node.js 20 (e.g. from nodesource) first."; exit 1
fi
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  log "ERROR: Node.js >= 20 required (found $(node -v))."; exit 1
fi

# ---- apt -------------------------------------------------------------------------------------------
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_pkgs=()
[ -x /usr/bin/chromium ] || apt_pkgs+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || apt_pkgs+=(libkrb5-dev)
command -v make >/dev/null 2>&1 || apt_pkgs+=(make)
command -v g++ >/dev/null 2>&1 || apt_pkgs+=(g++)
command -v python3 >/dev/null 2>&1 || apt_pkgs+=(python3)
[ -e /etc/ssl/certs/ca-certificates.crt ] || apt_pkgs+=(ca-certificates)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
  log "apt-get install ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
else
  log "apt packages already present"
fi

# ---- extension devDependencies (esbuild, typescript, vsce, playwright-core, ...) -------------------
if [ ! -d "$EXT_DIR/node_modules/playwright-core" ] || [ ! -d "$EXT_DIR/node_modules/@vscode/vsce" ]; then
  log "npm ci in $EXT_DIR"
  (cd "$EXT_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
else
  log "extension node_modules already present"
fi

# ---- code-server -----------------------------------------------------------------------------------
installed_cs=""
if [ -f "$CS_DIR/node_modules/code-server/package.json" ]; then
  installed_cs="$(node -p "require('$CS_DIR/node_modules/code-server/package.json').version" 2>/dev/null || true)"
fi
if [ "$installed_cs" = "$CS_VERSION" ] && [ -x "$CS_BIN" ]; then
  log "code-server $CS_VERSION already installed in $CS_DIR"
else
  log "installing code-server@$CS_VERSION into $CS_DIR (about 1-3 min)"
  mkdir -p "$CS_DIR"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # Fix 3: pre-seed @vscode/ripgrep's download cache with the rg binary from the npm registry.
  (cd "$tmp" && npm pack --silent "@vscode/ripgrep-linux-x64@$RG_PKG_VERSION" >/dev/null)
  mkdir -p "$tmp/rgpkg" "$tmp/rgbin" "$tmp/$RG_CACHE_NAME"
  tar -xzf "$tmp"/vscode-ripgrep-linux-x64-*.tgz -C "$tmp/rgpkg"
  rg_path="$(find "$tmp/rgpkg" -type f -name rg | head -n1)"
  if [ -z "$rg_path" ]; then log "ERROR: no rg binary in @vscode/ripgrep-linux-x64@$RG_PKG_VERSION"; exit 1; fi
  cp "$rg_path" "$tmp/rgbin/rg"; chmod +x "$tmp/rgbin/rg"
  tar -czf "$tmp/$RG_CACHE_NAME/$RG_TARBALL" -C "$tmp/rgbin" rg
  [ -f "$CS_DIR/package.json" ] || echo '{"name":"gorilla-e2e-code-server","private":true}' > "$CS_DIR/package.json"
  # Fix 1: build native modules against the local node headers; fix 2 (libkrb5-dev) is done above.
  # node-pty's post-install runs `npx node-gyp`: npm_config_yes=true stops npx from asking (or refusing).
  nodedir="$(dirname "$(dirname "$(command -v node)")")"
  # npm >= 11.1x blocks dependency install scripts by default; code-server needs them (native modules,
  # its own postinstall that installs the VS Code part), so allow them explicitly when npm knows the flag.
  allow_flag=()
  if npm install --help 2>/dev/null | grep -q -- "dangerously-allow-all-scripts"; then
    allow_flag=(--dangerously-allow-all-scripts)
  fi
  (cd "$CS_DIR" && TMPDIR="$tmp" npm_config_nodedir="$nodedir" npm_config_yes=true \
      npm install --unsafe-perm --foreground-scripts --no-audit --no-fund --loglevel=error "${allow_flag[@]}" \
      "code-server@$CS_VERSION" > "$tmp/npm-install.log" 2>&1) || {
    tail -n 60 "$tmp/npm-install.log" >&2; log "ERROR: code-server install failed"; exit 1; }
  grep -q "Using cached download" "$tmp/npm-install.log" || log "note: ripgrep cache line not seen in the install log"
  rm -rf "$tmp"; trap - EXIT
fi
log "code-server $(node -p "require('$CS_DIR/node_modules/code-server/package.json').version") ready: $CS_BIN"

log "done in $(( $(date +%s) - t_start )) s"
