"""A class as a teacher runs it and its students see it: each student handed a start and a goal, checked by the
student (check.yml, from what the host remembers) and graded by the teacher (grade.yml, from the inventory), with
the class page loaded in a real browser."""

from __future__ import annotations

import html.parser
import ipaddress
import json
import os
import shutil
import subprocess

from test_exercises import SEED000_VARS, Class, student_fixes
from test_lab_playbook import ansible_playbook

from nslabtest import REPO, grade_rows

ARTIFACTS = os.path.join(REPO, ".cache", "test-artifacts")
#: the student's check command on a sandbox lab host (on a lab VM: /usr/local/sbin/nslab-check), as a student types it
NSLAB_CHECK = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /run/nslab/sbin/nslab-check"

#: the class: a start and a goal each; f-fault is handed the whole lab with a fault (a dry check of a hand-out)
SECRET = {"nslab_variant": True, "nslab_class_secret": "the teacher's own"}     # each student's own lab subnet
CLASS = {
    "s-fwd": dict(SECRET, nslab_stage="route", nslab_goal="forward"),
    "s-var": dict(SECRET, nslab_stage="forward", nslab_goal="masquerade"),
    "s-000": dict(SEED000_VARS, nslab_stage="veth"),                     # goal: seed 000's whole lab
    "f-fault": {"nslab_faults": ["no-forwarding"]},
}


def masquerade(box) -> str:
    """The seed's MASQUERADE of this host's own lab subnet (from what it was handed), as its student types it."""
    gateway = json.loads(box.run("cat /etc/nslab/labs/nslab.json").stdout)["variables"]["gateway"]
    return f"iptables -t nat -A POSTROUTING -s {ipaddress.ip_interface(gateway).network} ! -o br0 -j MASQUERADE"


def student_inventory(klass, tmp_path) -> str:
    """The class as a student's inventory has it: the hosts and how to reach them, none of the teacher's
    assignment variables (the student's check reads what the host was handed from the host)."""
    path = tmp_path / "student.yml"
    data = json.loads(open(klass.inventory).read())
    for host in data["all"]["children"]["nslab_lab"]["hosts"].values():
        for key in [k for k in host if k.startswith("nslab_") and k not in ("nslab_uplink_address",)]:
            del host[key]
    path.write_text(json.dumps(data))
    return str(path)


class Page(html.parser.HTMLParser):
    """The class page's grid as the browser left it: header cells and the rows' cells, in order; each student's
    details (by id) with the texts of the picture drawn in them."""

    def __init__(self):
        super().__init__()
        self.head, self.rows, self.cell, self.section, self.links = [], [], None, None, []
        self.details, self.student, self.in_svg = {}, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.student = attrs.get("id")
            self.details[self.student] = []
        elif tag == "svg" and self.student:
            self.in_svg = True
        if tag in ("thead", "tbody"):
            self.section = tag
        elif tag == "tr" and self.section == "tbody":
            self.rows.append([])
        elif tag in ("th", "td"):
            self.cell = ""
        for key in ("src", "href"):
            if attrs.get(key) and not attrs[key].startswith("#"):
                self.links.append(attrs[key])

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if self.in_svg and data.strip():
            self.details[self.student].append(data.strip())

    def handle_endtag(self, tag):
        if tag == "th" and self.section == "thead":
            self.head.append(self.cell)
        elif tag == "td" and self.section == "tbody":
            self.rows[-1].append(self.cell)
        if tag in ("th", "td"):
            self.cell = None
        if tag in ("thead", "tbody"):
            self.section = None
        if tag == "svg":
            self.in_svg = False


def browse(page: str, fragment: str, tmp_path, screenshot: str | None = None) -> tuple[Page, list]:
    """The page loaded by headless Chromium in a network namespace of its own (nothing it sends goes anywhere): the
    DOM after its script ran, and every URL the page requested (from the browser's net log: a request whose
    initiator is an origin, a page's; the browser's own, such as its update checks, have none)."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (make apt-test installs it)"
    netlog = tmp_path / "netlog.json"
    os.makedirs(ARTIFACTS, exist_ok=True)
    argv = ["unshare", "--net", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}", f"--log-net-log={netlog}", "--window-size=1280,900"]
    dom = subprocess.run([*argv, "--dump-dom", f"file://{page}{fragment}"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    if screenshot:
        subprocess.run([*argv, f"--screenshot={os.path.join(ARTIFACTS, screenshot)}", f"file://{page}"],
                       capture_output=True, timeout=120, check=True)
    parsed = Page()
    parsed.feed(dom)
    text = netlog.read_text().rstrip()
    try:
        log = json.loads(text)
    except ValueError:              # a log the browser did not close
        log = json.loads(text.rstrip(",") + "]}")
    events = log.get("events", [])
    url = {}
    for event in events:
        url.setdefault(event["source"]["id"], (event.get("params") or {}).get("url"))
    paged = {url.get(e["source"]["id"]) for e in events
             if (e.get("params") or {}).get("initiator") not in (None, "not an origin")}
    return parsed, sorted(u for u in paged if u and not u.startswith(f"file://{page}"))


def test_a_class_handed_out_checked_by_students_and_graded(tmp_path):
    with Class(tmp_path, {name: dict(v) for name, v in CLASS.items()}) as klass:
        built = klass.playbook("playbooks/lab.yml")
        assert built.returncode == 0, built.stdout[-3000:]
        student = student_inventory(klass, tmp_path)
        results = tmp_path / "nslab-results"

        def as_student(*args):
            return ansible_playbook(klass.root, "-i", student, "-f", "4", *args)

        # the student's check reads the host's record: s-fwd NOT YET, seed 000's verdict on s-000, no fault names
        checked = as_student("playbooks/check.yml")
        assert checked.returncode != 0
        assert "s-fwd: NOT YET, 3 of 4 facts of goal forward (handed out at stage route)" in checked.stdout
        assert "s-000: NOT YET, 0 of 5 facts of goal forward (handed out at stage veth)" in checked.stdout, \
            checked.stdout[-3000:]
        assert "ceth0" not in checked.stdout                       # seed 000's lab (ceth1, ceth2), not the default's
        assert "hint:  sysctl -w net.ipv4.ip_forward=1" in checked.stdout
        assert "no-forwarding" not in checked.stdout
        for name, box in klass.boxes.items():       # nothing on a student's host names a fault or the secret
            found = box.run("grep -rlE \"no-forwarding|the teacher's own\" /etc /run/nslab 2>/dev/null; true")
            found = found.stdout.strip()
            assert found == "", (name, found)
            assert json.loads(box.run("cat /etc/nslab/labs/nslab.json").stdout)["goal"] in ("forward", "masquerade", "publish")
        assert "the teacher's own" not in built.stdout + checked.stdout
        # the same check on the lab host itself, with no Ansible there (the hand-out installed it)
        on_vm = klass.boxes["s-fwd"].run(NSLAB_CHECK, check=False)
        assert on_vm.returncode == 2, on_vm.stdout + on_vm.stderr
        assert "this host: NOT YET, 3 of 4 facts of goal forward (handed out at stage route)" in on_vm.stdout
        assert "hint:  sysctl -w net.ipv4.ip_forward=1" in on_vm.stdout
        faulted = klass.boxes["f-fault"].run(NSLAB_CHECK, check=False)
        assert faulted.returncode == 2 and "no-forwarding" not in faulted.stdout + faulted.stderr, faulted.stdout
        # a variable that disagrees with the host's record is named as such, not diagnosed
        asked = as_student("playbooks/check.yml", "--limit", "s-000", "-e", "nslab_seed=seed002")
        assert asked.returncode != 0 and "this host was handed seed000 stage veth, goal forward" in asked.stdout

        # the teacher's grade, from the inventory: a row per student, the faults named, the page
        graded = klass.playbook("playbooks/grade.yml")
        assert graded.returncode != 0, graded.stdout[-3000:]
        rows = grade_rows(graded.stdout, CLASS)
        assert rows["s-fwd"][:5] == ["NOT", "YET", "3/4", "route", "forward"], rows
        assert rows["f-fault"][:2] == ["NOT", "YET"] and rows["f-fault"][-1] == "no-forwarding", rows
        assert rows["s-000"][:3] == ["NOT", "YET", "0/5"], rows
        assert "0 of 4 students done." in graded.stdout
        assert sorted(os.listdir(results)) == ["check", "grade", "history", "index.html", "lab"]
        assert sorted(os.listdir(results / "grade")) == ["f-fault.json", "junit.xml", "s-000.json", "s-fwd.json",
                                                         "s-var.json"]

        # the student types the hint: DONE for the student and the teacher; the next step as well: still DONE
        student_fixes(klass.boxes["s-fwd"], ["sysctl -w net.ipv4.ip_forward=1"])
        again = as_student("playbooks/check.yml", "--limit", "s-fwd")
        assert again.returncode == 0 and "s-fwd: DONE, 4 of 4 facts of goal forward" in again.stdout, again.stdout[-3000:]
        on_vm = klass.boxes["s-fwd"].run(NSLAB_CHECK, check=False)
        assert on_vm.returncode == 0 and "this host: DONE, 4 of 4 facts of goal forward" in on_vm.stdout, on_vm.stdout
        # variants: each student's own subnet; the neighbour's rule does nothing for s-var, its own makes it DONE
        subnets = {h: json.loads(klass.boxes[h].run("cat /etc/nslab/labs/nslab.json").stdout)["variables"]["gateway"]
                   for h in ("s-fwd", "s-var")}
        assert subnets["s-fwd"] != subnets["s-var"] and all(s.startswith("10.") for s in subnets.values()), subnets
        student_fixes(klass.boxes["s-var"], [masquerade(klass.boxes["s-fwd"])])
        copied = as_student("playbooks/check.yml", "--limit", "s-var")
        assert copied.returncode != 0 and "s-var: NOT YET, 4 of 5 facts of goal masquerade" in copied.stdout, \
            copied.stdout[-3000:]
        student_fixes(klass.boxes["s-var"], [masquerade(klass.boxes["s-var"])])
        student_fixes(klass.boxes["s-fwd"], [masquerade(klass.boxes["s-fwd"])])
        graded = klass.playbook("playbooks/grade.yml", "-e", "nslab_grade_strict=false")
        assert graded.returncode == 0, graded.stdout[-3000:]
        rows = grade_rows(graded.stdout, CLASS)
        assert rows["s-fwd"][:4] == ["DONE", "4/4", "masquerade", "forward"], rows
        assert rows["s-var"][:4] == ["DONE", "5/5", "masquerade", "masquerade"], rows
        assert rows["s-fwd"][-2:] == ["4", "-"], rows         # the student's checks: two check.yml, two nslab-check
        history = [json.loads(line) for line in (results / "history" / "s-fwd.jsonl").read_text().splitlines()]
        assert [(h["kind"], h["word"]) for h in history] == [("check", "NOT YET 3/4"), ("grade", "NOT YET 3/4"),
                                                             ("check", "DONE 4/4"), ("grade", "DONE 4/4")]

        # the page, in a real browser: a row per student, a column per fact, sorted by progress, nothing fetched
        page, requests = browse(str(results / "index.html"), "#sort=result-down", tmp_path, "class-page.png")
        assert page.head == ["student", "result", "reached", "goal", "h>ns", "ns>h", "ns>ns", "ns>up", "ns>net",
                             "ns>pub", "out>pub", "checks", "faults"], page.head
        assert {row[0] for row in page.rows[:2]} == {"s-fwd", "s-var"} and len(page.rows) == 4, page.rows  # done first
        assert all(len(row) == len(page.head) for row in page.rows)
        assert page.links == [] and requests == [], (page.links, requests)
        # each student's lab as the grade found it: s-var's own subnet, seed 000's cables on s-000
        assert sorted(page.details) == sorted(CLASS), page.details.keys()
        assert "br0 (bridge)" in page.details["s-var"] and subnets["s-var"] in page.details["s-var"], page.details["s-var"]
        assert "ceth1 (veth)" in page.details["s-000"] and "internet" in page.details["s-fwd"], page.details
        assert os.path.getsize(os.path.join(ARTIFACTS, "class-page.png")) > 10000
        fetching = tmp_path / "fetching.html"          # the same look at a page that does fetch: it is seen
        fetching.write_text('<!DOCTYPE html><img src="http://203.0.113.99/logo.png">')
        assert browse(str(fetching), "", tmp_path)[1] == ["http://203.0.113.99/logo.png"]

        # a --limit that matches no lab host fails every playbook, saying so
        for playbook in ("lab.yml", "check.yml", "grade.yml", "teardown.yml"):
            proc = klass.playbook(f"playbooks/{playbook}", "--limit", "s-fwdd")
            assert proc.returncode != 0 and "no hosts to target" in proc.stdout + proc.stderr, playbook
