#!/usr/bin/env bash
# Installs the system packages the local stack needs (Java 17+, Maven, redis-server) and the C
# compiler of the mypyc build (gcc, Python's headers) when missing.
# On Debian/Ubuntu as root it uses apt-get; elsewhere it says what to install and fails.
set -euo pipefail

need=()
java_major() { java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
# A JDK, not only a JRE: an e2e test runs a Java agent (a source file) with Kafka's Java producer.
java_compiles() { java --list-modules 2>/dev/null | grep -q '^jdk.compiler'; }
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ] || ! java_compiles; then
  need+=(openjdk-17-jdk-headless)
fi
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
# promtool validates the shipped alerting rules (deploy/prometheus/); Debian ships it in prometheus.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Node.js (with npm) runs the gateway's TypeScript client example in the e2e tests.
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
python_h='import pathlib, sys, sysconfig; sys.exit(not pathlib.Path(sysconfig.get_paths()["include"], "Python.h").exists())'
"${PYTHON:-python3}" -c "$python_h" || need+=(python3-dev)

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: java $(java_major), maven, redis-server, promtool and a C compiler are present"
  exit 0
fi
# shellcheck source=scripts/apt-get-waiting.sh
source "$(dirname "$0")/apt-get-waiting.sh"

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "installing: ${need[*]}"
  apt_get update -qq
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing system packages: ${need[*]} (install them with your package manager, then rerun)" >&2
  exit 1
fi
