"""Generate each role's README.md from its meta/argument_specs.yml (and meta/main.yml).

    python scripts/role_readmes.py           # rewrite roles/*/README.md
    python scripts/role_readmes.py --check   # exit 1 and name the roles whose README is stale

The part between the BEGIN/END markers is generated; text around it is kept as written. The test
tests/unit/foundation/test_role_readmes.py fails when a README differs from what this prints.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN GENERATED FROM meta/argument_specs.yml (python scripts/role_readmes.py); do not edit -->"
END = "<!-- END GENERATED -->"
MACROS = [
    (re.compile(r"[CVOIB]\(([^()]*)\)"), r"`\1`"),
    (re.compile(r"[MP]\(([^()#]*)(#[^()]*)?\)"), r"`\1`"),
    (re.compile(r"L\(([^(),]*),\s*([^()]*)\)"), r"[\1](\2)"),
    (re.compile(r"U\(([^()]*)\)"), r"<\1>"),
]


def markdown(text: str) -> str:
    """Ansible doc markup (C(), O(), V(), M(), P(), L(), U(), I(), B()) as Markdown, on one line."""
    text = " ".join(str(text).split())
    for pattern, repl in MACROS:
        text = pattern.sub(repl, text)
    return text.replace("|", "\\|")


def _lines(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def _default(name: str, spec: dict, defaults: dict) -> str:
    if "default" in spec:
        value = spec["default"]
    elif name in defaults:
        value = defaults[name]
    else:
        return "" if not spec.get("required") else "(required)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "`%s`" % text.replace("|", "\\|") if len(text) <= 60 else "see `defaults/main.yml`"


def entry_point(name: str, spec: dict, defaults: dict) -> list:
    out = ["### Entry point `%s`" % name, "", markdown(spec.get("short_description", "")), ""]
    for paragraph in _lines(spec.get("description")):
        out += [markdown(paragraph), ""]
    options = spec.get("options") or {}
    if not options:
        return out + ["No variables.", ""]
    out += ["| variable | type | default | description |", "| --- | --- | --- | --- |"]
    for option in sorted(options):
        opt = options[option] or {}
        kind = opt.get("type", "str") + ("/" + opt["elements"] if opt.get("elements") else "")
        required = " **Required.**" if opt.get("required") else ""
        secret = " Secret (no_log)." if opt.get("no_log") else ""
        choices = " Choices: %s." % ", ".join("`%s`" % c for c in opt["choices"]) if opt.get("choices") else ""
        text = " ".join(markdown(p) for p in _lines(opt.get("description")))
        cells = (option, kind, _default(option, opt, defaults), text + required + choices + secret)
        out.append("| `%s` | %s | %s | %s |" % cells)
    return out + [""]


def generated(role: Path) -> str:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    defaults_file = role / "defaults" / "main.yml"
    defaults = (yaml.safe_load(defaults_file.read_text()) or {}) if defaults_file.is_file() else {}
    lines = [BEGIN, "", "## Variables", ""]
    for name in sorted(specs, key=lambda n: (n != "main", n)):
        lines += entry_point(name, specs[name], defaults)
    return "\n".join(lines + [END])


DOCS = {"argocd": "platform", "cnpg": "platform", "sealed_secrets": "platform", "kyverno": "platform",
        "monitoring": "platform", "traefik": "k3s", "k3s": "k3s", "hardening": "hardening", "preflight": "hardening",
        "db_backup": "backup", "verify": "verify", "gitops": "gitops"}
CONTROLLER_ROLES = ("gitops",)


def readme(role: Path) -> str:
    path = role / "README.md"
    block = generated(role)
    if path.is_file() and BEGIN in path.read_text():
        text = path.read_text()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1] if END in rest else "\n"
        return head + block + tail
    meta = yaml.safe_load((role / "meta" / "main.yml").read_text())["galaxy_info"]
    doc = DOCS.get(role.name)
    head = "# parametric_portal.infra.%s\n\n%s.%s\n\n" % (
        role.name, meta["description"].rstrip("."), " More in [docs/%s.md](../../docs/%s.md)." % (doc, doc) if doc else "")
    hosts = "localhost" if role.name in CONTROLLER_ROLES else "k3s_servers"
    tail = ("\n\n## Example\n\n```yaml\n- name: Use the role\n  hosts: %s\n  roles:\n"
            "    - role: parametric_portal.infra.%s\n```\n\n## License\n\nGPL-3.0-or-later\n" % (hosts, role.name))
    return head + block + tail


def roles() -> list:
    return sorted(p.parent.parent for p in REPO.glob("roles/*/meta/argument_specs.yml"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale READMEs")
    args = parser.parse_args()
    stale = [r for r in roles() if not (r / "README.md").is_file() or (r / "README.md").read_text() != readme(r)]
    if args.check:
        for role in stale:
            print("stale: %s/README.md (run python scripts/role_readmes.py)" % role.relative_to(REPO))
        return 1 if stale else 0
    for role in stale:
        (role / "README.md").write_text(readme(role))
        print("wrote %s/README.md" % role.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
