"""Apps model / environment validation, builders, deterministic YAML and the write plan."""
from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import apps as ga
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import checks as gc
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import dump as gd
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import model as gm
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import plan as gp
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import pss as gs
from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops import tree as gt

from .helpers import apps, environments, platform


def _render(app_list=None, envs=None):
    return gt.render_tree(app_list if app_list is not None else apps(), envs or environments(), platform())


@pytest.mark.parametrize("mutate, field, text", [
    (lambda a: a.append(dict(a[0], domain="x.parametric-portal.com", port=4100)), "infra_apps[2] (api).name", "duplicate app name 'api'"),
    (lambda a: a[0].update(domain="Not_A_Domain"), "infra_apps[0] (api).domain", "not valid"),
    (lambda a: a[0].update(domain="parametric-portal.com"), "infra_apps[1] (icons).domain", "already used"),
    (lambda a: a[0].update(port=70000), "infra_apps[0] (api).port", "70000 is out of range"),
    (lambda a: a[0].update(port=80), "infra_apps[0] (api).port", "out of range: expected 1024-65535"),
    (lambda a: a[1].update(port=4000), "infra_apps[1] (icons).port", "already used"),
    (lambda a: a[0].update(port="4000"), "infra_apps[0] (api).port", "must be an integer"),
    (lambda a: a[0].update(kind="php"), "infra_apps[0] (api).kind", "node-api, spa"),
    (lambda a: a[0].update(image="ghcr.io/parametric-portal/api:latest"), "infra_apps[0] (api).image", "without tag"),
    (lambda a: a[0].update(rate_limit="huge"), "infra_apps[0] (api).rate_limit", "api, web, none"),
    (lambda a: a[1].update(connect_src=["http://insecure.example.com"]), "infra_apps[1] (icons).connect_src[0]", "https://"),
    (lambda a: a[0].update(replicas=3), "infra_apps[0].replicas", "unknown key"),
    (lambda a: a[0].update(name="API"), "infra_apps[0].name", "DNS label"),
    (lambda a: a[0].update(env={"PORT": "1"}), "infra_apps[0] (api).env", "set by the generator"),
])
def test_bad_apps_model_names_the_field(mutate, field, text):
    bad = apps()
    mutate(bad)
    with pytest.raises(gc.ManifestError) as exc:
        _render(bad)
    message = str(exc.value)
    assert message.startswith(field + ":"), message
    assert text in message, message


@pytest.mark.parametrize("env, mutate, field, text", [
    ("prod", lambda e: e["apps"]["api"]["hpa"].update(min=11), "infra_env (prod).apps.api.hpa.min",
     "min replicas 11 is greater than max replicas 10"),
    ("prod", lambda e: e.update(image_tag="dev"), "infra_env (prod).image_tag", "sha-XXXXXXX"),
    ("prod", lambda e: e.update(image_tag="sha-ABCDEF1"), "infra_env (prod).image_tag", "lower-case hex"),
    ("prod", lambda e: e.update(image_tag="sha-1234567a"), "infra_env (prod).image_tag", "not valid"),
    ("dev", lambda e: e.update(image_tag="latest"), "infra_env (dev).image_tag", "'latest' is not allowed"),
    ("dev", lambda e: e.update(log_level="TRACE"), "infra_env (dev).log_level", "DEBUG, INFO, WARN, ERROR"),
    ("dev", lambda e: e.update(rate_limiting=True), "infra_env (dev).rate_limiting", "needs ingress: true"),
    ("prod", lambda e: e.update(tls=False), "infra_env (prod).tls", "not supported"),
    ("prod", lambda e: e["apps"].update(ghost={"replicas": 1}), "infra_env (prod).apps.ghost", "no app of that name"),
    ("prod", lambda e: e["apps"]["api"].pop("limits") and e.pop("app_defaults"), "infra_env (prod).apps.api.limits", "is required"),
    ("prod", lambda e: e["apps"]["api"].update(limits={"memory": "lots", "cpu": "1"}), "infra_env (prod).apps.api.limits.memory", "quantity"),
    ("dev", lambda e: e["apps"]["api"].update(replicas=0), "infra_env (dev).apps.api.replicas", "out of range"),
    ("dev", lambda e: e.update(namespace="Dev NS"), "infra_env (dev).namespace", "DNS label"),
])
def test_bad_environment_names_the_field(env, mutate, field, text):
    envs = environments()
    mutate(envs[env])
    with pytest.raises(gc.ManifestError) as exc:
        _render(envs=envs)
    message = str(exc.value)
    assert message.startswith(field + ":"), message
    assert text in message, message


def test_bad_platform_names_the_field():
    bad = platform()
    bad["kyverno"]["chart_version"] = "v3"
    with pytest.raises(gc.ManifestError, match=r"^platform.kyverno.chart_version: 'v3' is not valid: expected a chart version"):
        gt.render_tree(apps(), environments(), bad)
    with pytest.raises(gc.ManifestError, match=r"^platform.bogus: unknown key"):
        gt.render_tree(apps(), environments(), dict(platform(), bogus=1))
    missing = platform()
    del missing["argocd"]["repo_url"]
    with pytest.raises(gc.ManifestError, match=r"^platform.argocd.repo_url: is required"):
        gt.render_tree(apps(), environments(), missing)


def test_renderer_keeps_no_defaults_of_its_own():
    """Everything the owning roles publish is required: the renderer cannot fill in a pin or a name."""
    for part in ("traefik", "argocd", "cnpg", "kyverno", "monitoring"):
        for key in sorted(platform()[part]):
            incomplete = platform()
            del incomplete[part][key]
            with pytest.raises(gc.ManifestError, match=r"^platform.%s.%s: is required" % (part, key)):
                gt.render_tree(apps(), environments(), incomplete)


def test_a_policy_exception_must_name_an_existing_rule():
    bad = platform()
    bad["kyverno"]["exceptions"][0]["spec"]["exceptions"][0]["ruleNames"].append("no-such-rule")
    with pytest.raises(gc.ManifestError, match=r"^platform.kyverno.exceptions\[0\]: names rule\(s\) no-such-rule"):
        gt.render_tree(apps(), environments(), bad)
    bad = platform()
    bad["kyverno"]["exceptions"][1]["spec"]["exceptions"][0]["policyName"] = "gone"
    with pytest.raises(gc.ManifestError, match=r"^platform.kyverno.exceptions\[1\]: names policy 'gone'"):
        gt.render_tree(apps(), environments(), bad)


def test_per_app_dashboard_panels_repeat_for_every_app():
    more = apps() + [dict(apps()[1], name="docs", domain="docs.parametric-portal.com", port=8081, www_redirect=False)]
    tree = gt.build_tree(more, environments(), platform())
    board = tree["platform/monitoring/dashboard-apps.yaml"][0]["data"]["apps.json"]
    panels = json.loads(board)["panels"]
    assert [p["title"] for p in panels] == ["api CPU (cores)", "icons CPU (cores)", "docs CPU (cores)",
                                            "api memory (bytes)", "icons memory (bytes)", "docs memory (bytes)"]
    assert [p["id"] for p in panels] == [1, 2, 3, 4, 5, 6]
    assert [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in panels] == [(0, 0), (12, 0), (0, 8), (12, 8), (0, 16), (12, 16)]
    assert all("perApp" not in p and "<app>" not in json.dumps(p) for p in panels)


def test_image_tag_policies():
    assert gm.image_tag("sha-1a2b3c4", "immutable") == "sha-1a2b3c4"
    assert gm.image_tag("dev") == "dev"
    for tag in ("dev", "sha-1a2b3c", "sha-1A2B3C4", ""):
        with pytest.raises(gc.ManifestError):
            gm.image_tag(tag, "immutable")
    with pytest.raises(gc.ManifestError, match="'latest' is not allowed"):
        gm.image_tag("latest")


def test_middleware_chain_composition():
    api, icons = gm.validate_apps(apps())
    assert ga.middleware_chain(api) == ["rate-limit-api", "api-security-headers", "compress"]
    assert ga.middleware_chain(icons) == ["icons-www-redirect", "rate-limit-web", "icons-security-headers", "compress"]
    assert ga.middleware_chain(icons, rate_limiting=False) == ["icons-www-redirect", "icons-security-headers", "compress"]


def test_restricted_security_context_is_compliant():
    sc = ga.restricted_security_context(10001)
    spec = {"securityContext": sc["pod"], "containers": [{"name": "c", "securityContext": sc["container"]}]}
    assert gs.restricted_violations(spec) == []
    assert sc["container"]["readOnlyRootFilesystem"] is True
    with pytest.raises(gc.ManifestError):
        ga.restricted_security_context(0)


def test_dump_is_deterministic_and_sorted():
    doc = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a"}, "data": {"b": "x\ny\n", "a": "1"}}
    one = gd.dump_documents([doc, doc])
    assert one == gd.dump_documents([copy.deepcopy(doc), copy.deepcopy(doc)])
    assert one.startswith("---\napiVersion: v1\ndata:\n  a: '1'\n  b: |\n    x\n    y\nkind: ConfigMap\n")
    assert list(yaml.safe_load_all(one)) == [doc, doc]
    assert "\n  - " in gd.dump_documents([{"a": [1]}])
    assert "\n- " in gd.dump_documents([{"a": [1]}], indent_sequences=False)


def test_render_is_deterministic_and_headed():
    first = _render()
    assert first == _render()
    assert all(gt.is_generated(text) for text in first.values())


def test_dev_overlay_has_no_ingress_and_prod_has_hpas():
    tree = gt.build_tree(apps(), environments(), platform())
    dev = tree["overlays/dev/kustomization.yaml"][0]
    prod = tree["overlays/prod/kustomization.yaml"][0]
    assert dev["namespace"] == "parametric-portal-dev" and prod["namespace"] == "parametric-portal"
    assert {i["newTag"] for i in dev["images"]} == {"dev"}
    assert all(i["newTag"].startswith("sha-") for i in prod["images"])
    assert dev["replicas"] == [{"name": "api", "count": 1}, {"name": "icons", "count": 1}]
    assert "replicas" not in prod
    assert "hpa-api.yaml" in prod["resources"] and "tlsstore.yaml" in prod["resources"]
    assert "overlays/dev/tlsstore.yaml" not in tree
    deleted = [yaml.safe_load(p["patch"]) for p in dev["patches"] if "$patch: delete" in p["patch"]]
    assert {(d["kind"], d["metadata"]["name"]) for d in deleted} >= {
        ("IngressRoute", "api-https"), ("IngressRoute", "icons-https"), ("IngressRoute", "http-redirect"),
        ("Middleware", "rate-limit-api"), ("TLSOption", "default")}


def test_ingress_without_rate_limiting_patches_chains():
    envs = environments()
    envs["prod"]["rate_limiting"] = False
    tree = gt.build_tree(apps(), envs, platform())
    patches = [yaml.safe_load(p["patch"]) for p in tree["overlays/prod/kustomization.yaml"][0]["patches"]]
    chains = {p["metadata"]["name"]: p["spec"]["chain"]["middlewares"] for p in patches if p.get("spec", {}).get("chain")}
    assert chains["api-middleware-chain"] == [{"name": "api-security-headers"}, {"name": "compress"}]


def test_new_app_needs_only_its_entry():
    more = apps() + [{"name": "docs", "kind": "spa", "domain": "docs.parametric-portal.com", "port": 8081,
                      "image": "ghcr.io/parametric-portal/docs", "rate_limit": "web"}]
    tree = gt.build_tree(more, environments(), platform())
    assert "apps/docs/deployment.yaml" in tree and "overlays/prod/hpa-docs.yaml" in tree
    assert tree["overlays/prod/hpa-docs.yaml"][0]["spec"]["minReplicas"] == 2  # infra_env.app_defaults
    names = [d["metadata"]["name"] for d in tree["base/networkpolicy.yaml"]]
    assert "allow-docs-egress" in names


# ---- write plan -------------------------------------------------------------------------
def _write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def test_plan_creates_then_nothing(tmp_path):
    rendered = _render()
    plan = gp.plan_tree(str(tmp_path), rendered, ["dev", "prod"])
    secrets = {"overlays/dev/secrets/kustomization.yaml", "overlays/prod/secrets/kustomization.yaml"}
    assert set(plan["create"]) == set(rendered) | secrets
    gp.apply_plan(str(tmp_path), plan)
    again = gp.plan_tree(str(tmp_path), rendered, ["dev", "prod"])
    assert not again["create"] and not again["update"] and not again["remove"]
    assert len(again["unchanged"]) == len(rendered)


def test_plan_never_touches_secrets_and_keeps_foreign_files(tmp_path):
    root = str(tmp_path)
    gp.apply_plan(root, gp.plan_tree(root, _render(), ["dev", "prod"]))
    sealed = "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
    _write(root, "overlays/prod/secrets/api-db.yaml", sealed)
    _write(root, "overlays/prod/secrets/kustomization.yaml", "---\nresources: [api-db.yaml]\n")
    _write(root, "overlays/prod/secrets/stale.yaml", gt.HEADER + "---\n{}\n")  # even with the header
    _write(root, "apps/old/deployment.yaml", gt.HEADER + "---\n{}\n")           # stale generated file
    _write(root, "apps/notes.yaml", "---\nmine: true\n")                       # foreign file
    plan = gp.plan_tree(root, _render(), ["dev", "prod"])
    assert list(plan["remove"]) == ["apps/old/deployment.yaml"]
    assert not plan["create"] and not plan["update"]
    gp.apply_plan(root, plan)
    assert not os.path.exists(os.path.join(root, "apps/old"))
    assert open(os.path.join(root, "overlays/prod/secrets/api-db.yaml")).read() == sealed
    assert os.path.exists(os.path.join(root, "overlays/prod/secrets/stale.yaml"))
    assert os.path.exists(os.path.join(root, "apps/notes.yaml"))


def test_plan_refuses_to_overwrite_hand_written_file(tmp_path):
    _write(str(tmp_path), "base/namespace.yaml", "---\n# hand made\n")
    with pytest.raises(gc.ManifestError, match="base/namespace.yaml: exists and was not generated"):
        gp.plan_tree(str(tmp_path), _render(), ["dev", "prod"])


def test_plan_updates_changed_file(tmp_path):
    root = str(tmp_path)
    gp.apply_plan(root, gp.plan_tree(root, _render(), ["dev", "prod"]))
    envs = environments()
    envs["prod"]["image_tag"] = "sha-abcdef0"
    plan = gp.plan_tree(root, _render(envs=envs), ["dev", "prod"])
    assert list(plan["update"]) == ["overlays/prod/kustomization.yaml"]


def test_dump_never_writes_anchors():
    shared = {"a": 1}
    text = gd.dump_documents([{"x": shared, "y": shared}])
    assert "&" not in text and "*" not in text
