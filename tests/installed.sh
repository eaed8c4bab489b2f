#!/usr/bin/env bash
# Build the collection tarball, check what it holds, install it and find its playbooks
# there (not in this source tree); then make the execution-environment build context
# from the same tarball. The lab itself runs from an installed copy in the README test
# (its Install section: `ansible-playbook nslab.net.lab` from the home directory).
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

# the playbooks, as `ansible-playbook nslab.net.lab`, from a directory without this repo's ansible.cfg
cd "$work/project"
for playbook in lab check teardown graph; do
  ansible-playbook "nslab.net.$playbook" --list-tasks > list.log      # (grep -q on a pipe would break it)
  grep -q "playbook: $work/collections/ansible_collections/nslab/net/playbooks/$playbook.yml" list.log
done

# execution environment: the build context (no container engine needed)
cp "$tarball" "$repo/tests/ee/"
ansible-builder create -f "$repo/tests/ee/execution-environment.yml" -c "$work/ee-context" | tail -n 1
rm -f "$repo"/tests/ee/nslab-net-*.tar.gz
test -f "$work/ee-context/_build/collections/$(basename "$tarball")"
