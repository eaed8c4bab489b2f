#!/usr/bin/env bash
# Build the collection tarball, install it, and run the lab and molecule's default
# scenario from the installed copy (not from this source tree); then make the
# execution-environment build context from the same tarball.
#   tests/installed.sh VENV
set -euo pipefail
venv=$(cd "${1:?usage: installed.sh VENV}" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$repo/.cache/installed
rm -rf "$work" && mkdir -p "$work/project"
export PATH=$venv/bin:$PATH

ansible-galaxy collection build --force --output-path "$work" "$repo"
tarball=$(ls "$work"/nslab-net-*.tar.gz)
if tar tzf "$tarball" | grep -E '^(tests|molecule|\.cache|\.venv|\.ci)/'; then
  echo "the tarball holds files build_ignore should keep out"; exit 1
fi
ansible-galaxy collection install --force -p "$work/collections" "$tarball"
export ANSIBLE_COLLECTIONS_PATH=$work/collections
test "$(ansible-galaxy collection list nslab.net --format json | python3 -c 'import json,sys; print(list(json.load(sys.stdin))[0])')" = "$work/collections/ansible_collections"

# the lab, as `ansible-playbook nslab.net.lab`, from a directory without this repo's ansible.cfg
cd "$work/project"
root=/run/nslab-installed-$$
ansible-playbook nslab.net.lab -e nslab_sandbox_root=$root | tee lab.log | tail -n 3
ansible-playbook nslab.net.lab --list-tasks > list.log      # (grep -q on a pipe would break it)
grep -q "playbook: $work/collections/ansible_collections/nslab/net/playbooks/lab.yml" list.log
if grep -q "NOT reachable" lab.log; then echo "the installed lab reported NOT reachable facts"; exit 1; fi
ansible-playbook nslab.net.teardown -e nslab_sandbox_root=$root | tail -n 3
test ! -e $root

# molecule's default scenario against the installed collection
cp -r "$repo/molecule" "$repo/.config" .
NO_COLOR=1 MOLECULE_GLOB='molecule/*/molecule.yml' molecule test -s default > molecule.log 2>&1 || { tail -n 60 molecule.log; exit 1; }
# the only nslab.net molecule's ansible-playbook can see from here is the installed one
ansible-galaxy collection list nslab.net --format json > collections.json
python3 -c 'import json, sys; found = json.load(open("collections.json")); assert list(found) == [sys.argv[1]], found' \
  "$work/collections/ansible_collections"
grep -E 'default.*successful=6.*failed=0' molecule.log

# execution environment: the build context (no container engine needed)
cp "$tarball" "$repo/tests/ee/"
ansible-builder create -f "$repo/tests/ee/execution-environment.yml" -c "$work/ee-context" | tail -n 1
rm -f "$repo"/tests/ee/nslab-net-*.tar.gz
test -f "$work/ee-context/_build/collections/$(basename "$tarball")"
