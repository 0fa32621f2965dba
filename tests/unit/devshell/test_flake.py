"""flake.nix, checked offline with Debian's Nix (package nix-bin, installed by scripts/bootstrap-host.sh).

What can be checked without network here: the file parses (`nix-instantiate --parse`), its input is
pinned to nixos-24.05, and its outputs evaluate (`nix-instantiate --eval --strict`) against a STAND-IN
for nixpkgs that knows only the attribute names of the README's "Dev shell (Nix)" table and a mkShell
that returns its arguments. That proves the shell lists exactly the twenty tools the README names (the
Linux-only ones only on Linux) and the spec's aliases. It does NOT prove that each attribute exists in
nixos-24.05 or builds: the flake's inputs cannot be fetched here and the shell was never built.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LINUX_ONLY = {"podman", "debootstrap", "qemu"}
SYSTEMS = ["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]


def nix_instantiate():
    exe = shutil.which("nix-instantiate")
    if not exe:
        pytest.fail("nix-instantiate not found: run scripts/bootstrap-host.sh (Debian package nix-bin)")
    return exe


def readme_attributes():
    text = (REPO / "README.md").read_text()
    section = text.split("## Dev shell (Nix)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line.split("|")[2]]
    return [re.search(r"`([^`]+)`", row.split("|")[2]).group(1) for row in rows]


def evaluate(tmp_path, names):
    stub = tmp_path / "eval.nix"
    stub.write_text("""
let
  flake = import %(flake)s;
  names = builtins.fromJSON %(names)s;
  # STAND-IN for nixpkgs: one attribute per README name, mkShell returns its arguments.
  stubPkgs = system: builtins.listToAttrs (map (n: { name = n; value = { stubName = n; }; }) names) // {
    mkShell = args: args;
    stdenv.isLinux = builtins.match ".*-linux" system != null;
  };
  nixpkgs.legacyPackages = builtins.listToAttrs (map (s: { name = s; value = stubPkgs s; }) (builtins.fromJSON %(systems)s));
  out = flake.outputs { self = out; inherit nixpkgs; };
in {
  inherit (flake) description;
  inputs = builtins.attrNames flake.inputs;
  url = flake.inputs.nixpkgs.url;
  shells = builtins.mapAttrs (system: shells: {
    names = builtins.attrNames shells;
    packages = map (p: p.stubName) shells.default.packages;
    hook = shells.default.shellHook;
  }) out.devShells;
}
""" % {"flake": json.dumps(str(REPO / "flake.nix")), "names": json.dumps(json.dumps(names)),
       "systems": json.dumps(json.dumps(SYSTEMS))})
    proc = subprocess.run([nix_instantiate(), "--eval", "--strict", "--json", str(stub)], capture_output=True, text=True,
                          timeout=120, check=False)
    return proc


def test_flake_parses():
    proc = subprocess.run([nix_instantiate(), "--parse", str(REPO / "flake.nix")], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_readme_names_twenty_tools():
    names = readme_attributes()
    assert len(names) == 20 and len(set(names)) == 20, names
    assert {"kubectl", "k9s", "argocd", "stern", "kubeseal", "kubernetes-helm", "kustomize", "kubectl-cnpg"} <= set(names)


def test_dev_shell_lists_exactly_the_readme_tools(tmp_path):
    names = readme_attributes()
    proc = evaluate(tmp_path, names)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["url"] == "github:NixOS/nixpkgs/nixos-24.05" and result["inputs"] == ["nixpkgs"]
    assert sorted(result["shells"]) == sorted(SYSTEMS)
    for system, shell in result["shells"].items():
        assert shell["names"] == ["default"]
        expected = set(names) - (set() if system.endswith("-linux") else LINUX_ONLY)
        assert sorted(shell["packages"]) == sorted(expected), system
        for alias in ("k=kubecolor", "k9=k9s", "argo=argocd", "klog=stern"):
            assert alias in shell["hook"]


def test_a_tool_missing_from_the_readme_fails_the_evaluation(tmp_path):
    """The stand-in has only the README's names: a flake attribute the README does not name cannot evaluate."""
    proc = evaluate(tmp_path, [n for n in readme_attributes() if n != "stern"])
    assert proc.returncode != 0 and "stern" in proc.stderr
