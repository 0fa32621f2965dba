"""The hardening role's file table (vars/main.yml __hardening_files) and its template tasks agree.

tasks/facts.yml decides from that table which files differ on the host; a template task runs only
for those. A task whose src/dest/mode differ from its table row would be skipped on a host where
it should write, or run on every converge; a task missing from the table would never run.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "hardening"
# ssh.yml and firewall.yml template their files unconditionally (another concern's design).
OWN_TASK_FILES = sorted(p for p in (ROLE / "tasks").glob("*.yml") if p.name not in ("ssh.yml", "firewall.yml"))


def _table():
    return {row["path"]: row for row in yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__hardening_files"]}


def _template_tasks():
    for path in OWN_TASK_FILES:
        for task in yaml.safe_load(path.read_text()) or []:
            args = task.get("ansible.builtin.template")
            if args is not None:
                yield path.name, task, args


def test_every_template_task_is_in_the_table_and_gated_by_it():
    table = _table()
    seen = set()
    for fname, task, args in _template_tasks():
        when = task.get("when", [])
        when_text = " ".join(when) if isinstance(when, list) else str(when)
        if "{{ item }}" in args["dest"]:
            # a loop over table rows: every item must be a table path, the loop gated by __hardening_stale
            items = [args["dest"].replace("{{ item }}", name) for name in ("parametric-portal-faillock", "parametric-portal-faillock-notify")]
            assert "__hardening_stale" in str(task.get("loop")), f"{fname}: {task['name']} loop is not gated"
        else:
            items = [args["dest"]]
            assert f"'{args['dest']}' in __hardening_stale" in when_text, f"{fname}: {task['name']} is not gated by the table"
        for dest in items:
            assert dest in table, f"{fname}: {dest} is not in __hardening_files"
            row = table[dest]
            src = args["src"].replace("{{ item }}", Path(dest).name)
            assert row["src"] == src, f"{dest}: task src {src} != table {row['src']}"
            assert row["mode"] == args["mode"], f"{dest}: task mode {args['mode']} != table {row['mode']}"
            assert (args.get("owner"), args.get("group")) == ("root", "root"), dest
            seen.add(dest)
    assert seen == set(table), f"table rows without a task: {sorted(set(table) - seen)}"


@pytest.mark.parametrize("row", sorted(_table()), ids=str)
def test_table_templates_exist(row):
    assert (ROLE / "templates" / _table()[row]["src"]).is_file()


def test_every_drop_in_directory_names_the_tag_of_the_task_file_that_writes_into_it():
    """facts.yml makes a directory only when its tag runs; a wrong tag would leave it missing."""
    files_by_tag = {}
    for task in yaml.safe_load((ROLE / "tasks" / "main.yml").read_text()):
        included = task.get("ansible.builtin.import_tasks") or task.get("ansible.builtin.include_tasks")
        for tag in task.get("tags", []):
            if included:
                files_by_tag.setdefault(tag, []).append(included)
    dirs = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__hardening_dirs"]
    for row in dirs:
        writers = [name for name in files_by_tag.get(row["tag"], []) if row["path"] + "/" in (ROLE / "tasks" / name).read_text()]
        assert writers, f"{row['path']}: no task file under tag {row['tag']!r} writes into it ({files_by_tag.get(row['tag'])})"
