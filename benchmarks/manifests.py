"""Wall time of the GitOps pipeline for both overlays: render + build + validate (target < 3 s).

  .venv/bin/python benchmarks/manifests.py [--repeat N]

render   = gitops render of the whole tree from the apps model into a temporary folder (in-process)
build    = real `kubectl kustomize` of overlays/dev and overlays/prod (two processes)
validate = strict offline validation of both builds + platform/ + argocd/ against Kubernetes 1.32 and the
           upstream CRDs (PP_SHARED_DIR, default ../shared), including loading the schemas (cold process state
           only on the first repetition; later repetitions show the cached-validator cost). Parsed CRD files
           come from the JSON schema cache (~/.cache/parametric_portal/crd-json) when it exists; the very
           first run on a machine fills it (+~1.5 s CPU for the two 1.4 MB Kyverno CRDs).
Prints one line per repetition and the best/median total.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import conftest  # noqa: E402  (makes this working tree importable as the collection, as for pytest)
import gitops_inputs  # noqa: E402  (the real inputs: inventories, role defaults, role files)

REPO = conftest.REPO_ROOT

from ansible_collections.parametric_portal.infra.plugins.module_utils import _k8s_schema as ks  # noqa: E402
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import plan as gp  # noqa: E402
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import tree as gt  # noqa: E402


def inputs():
    return gitops_inputs.apps(), gitops_inputs.environments(), gitops_inputs.platform()


def cpu():
    """CPU seconds of this process + finished children (kubectl): what wall time is on an idle machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def once(apps, envs, platform, crd_dirs, kubectl):
    timings = {}
    cpu_start = cpu()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        rendered = gt.render_tree(apps, envs, platform)
        gp.apply_plan(tmp, gp.plan_tree(tmp, rendered, envs))
        timings["render"] = time.perf_counter() - start

        start = time.perf_counter()
        procs = {env: subprocess.Popen([kubectl, "kustomize", os.path.join(tmp, "overlays", env)],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for env in envs}
        builds = {}
        for env, proc in procs.items():
            out, err = proc.communicate()
            if proc.returncode:
                raise SystemExit("kubectl kustomize %s failed: %s" % (env, err))
            builds[env] = out
        timings["build"] = time.perf_counter() - start

        start = time.perf_counter()
        validator = ks.SchemaValidator(crd_dirs=crd_dirs, k8s_version="1.32", strict=True)
        findings, objects = [], 0
        for env, text in builds.items():
            docs = ks.load_yaml_documents(text)
            objects += len(docs)
            findings += validator.validate_documents(docs, env)
        for folder in ("platform", "argocd"):
            for path in sorted(Path(tmp, folder).rglob("*.yaml")):
                if path.name == "kustomization.yaml":
                    continue
                docs = ks.load_yaml_documents(str(path))
                objects += len(docs)
                findings += validator.validate_documents(docs, str(path))
        timings["validate"] = time.perf_counter() - start
    if findings:
        raise SystemExit(ks.format_report(findings))
    timings["objects"] = objects
    timings["cpu"] = cpu() - cpu_start
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kubectl = shutil.which("kubectl") or str(Path(sys.executable).parent / "kubectl")
    shared = Path(os.environ.get("PP_SHARED_DIR", REPO.parent / "shared"))
    crd_dirs = [str(shared / "crds" / d) for d in ("traefik/v3.3.5", "kyverno", "argo-cd", "prometheus-operator")]
    apps, envs, platform = inputs()
    totals = []
    print("target: render + build + validate of both overlays < 3.00 s (2 vCPU VPS class machine)")
    print("load average now: %.1f %.1f %.1f on %d CPUs (wall time grows with load; CPU time does not)" % (
        os.getloadavg() + (os.cpu_count() or 1,)))
    for index in range(args.repeat):
        t = once(apps, envs, platform, crd_dirs, kubectl)
        total = t["render"] + t["build"] + t["validate"]
        totals.append(total)
        print("run %d: render %.3f s  build %.3f s  validate %.3f s (%d objects)  total %.3f s wall, %.3f s CPU%s" % (
            index + 1, t["render"], t["build"], t["validate"], t["objects"], total, t["cpu"],
            "  (cold: schemas loaded)" if index == 0 else ""))
    print("best %.3f s  median %.3f s  cold %.3f s  -> %s" % (
        min(totals), statistics.median(totals), totals[0], "OK" if totals[0] < 3.0 else "OVER TARGET"))


if __name__ == "__main__":
    main()
