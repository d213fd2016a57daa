#!/usr/bin/env bash
# Installs what riskloop needs on a fresh Debian machine with Python 3.11:
# Debian packages (only the missing ones, Java and Maven included) and the Python package
# with its dev extras. Apache Kafka's jars are fetched with Maven on first use by the test
# harness (cached).
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(redis-server prometheus kcat docker-compose chromium)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Apache Kafka for the test harness runs from Maven Central's jars on a Java 17+ runtime.
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
stamp=.deps-stamp
want="$(sha256sum pyproject.toml | cut -c1-16)-$($PY --version 2>&1)"
# where riskloop imports from outside this folder: the editable install must point here
# (a moved or re-cloned checkout leaves it pointing at the old path)
installed="$(cd / && $PY -c 'import os, riskloop; print(os.path.dirname(os.path.dirname(riskloop.__file__)))' 2>/dev/null || true)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ "$installed" != "$(pwd -P)" ]; then
  echo "installing Python packages (pip install -e '.[dev]')"
  $PY -m pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
fi
