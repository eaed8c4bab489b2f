#!/usr/bin/env bash
# ansible-test sanity (zero ignore entries), from a proper ansible_collections/nslab/net
# path, with --venv (no containers here). The unit tests run once, in pytest (make unit).
#   tests/sanity/run.sh VENV
set -euo pipefail
venv=$(cd "${1:?usage: run.sh VENV}" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${NSLAB_ANSIBLE_TEST_ROOT:-/tmp/nslab-ansible-test}
dest=$root/ansible_collections/nslab/net
at=$venv/bin/ansible-test
command -v shellcheck >/dev/null || { echo "ansible-test sanity needs shellcheck (apt install shellcheck; make setup installs it)"; exit 1; }

# ansible-test bootstraps pip in its venvs with a script it downloads from a host these
# machines cannot reach; give it our stand-in under the name it looks for.
pip_version=$(grep -oP "pip='\K[0-9.]+" "$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
mkdir -p ~/.ansible/test/cache
cp "$repo/tests/sanity/get_pip.py" ~/.ansible/test/cache/get_pip_"${pip_version//./_}".py

# the collection's files (as git sees them) under ansible_collections/nslab/net
rm -rf "$root" && mkdir -p "$dest"
(cd "$repo" && git ls-files -co --exclude-standard | grep -v '^\.cache/' | tar -cf - -T - | tar -xf - -C "$dest")
test -z "$(ls "$dest"/tests/sanity/ignore-*.txt 2>/dev/null)" || { echo "tests/sanity/ignore-*.txt must not exist"; exit 1; }

# real interpreters first on PATH (pyenv's shims fail unless selected)
pybin=$root/pybin && mkdir -p "$pybin"
for v in 3.9 3.13; do
  real=""
  for candidate in ~/.pyenv/versions/"$v".*/bin/python"$v"; do [ -x "$candidate" ] && real=$candidate; done
  [ -n "$real" ] && ln -sf "$real" "$pybin/python$v"
done
export PATH=$pybin:$venv/bin:$PATH

cd "$dest"
controller=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$at" sanity --venv --python "$controller" --color no
if [ -x "$pybin/python3.9" ]; then
  # the managed side's oldest Python: module code must compile and import there
  "$at" sanity --venv --python 3.9 --test compile --test import --color no
fi
