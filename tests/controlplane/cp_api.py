"""Thin helpers over the real API server: discovery (kubernetes' DynamicClient), server-side apply and
status updates as plain REST calls, so tests see status codes, messages and Warning headers exactly as
the server sends them."""
from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

FIELD_MANAGER = "parametric-portal-tests"
# libyaml's loader: the upstream CRDs are up to 1.4 MB each (pure-Python PyYAML needs ~20 s for one here).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Api:
    def __init__(self, cp):
        from kubernetes import client as k8s_client, config as k8s_config, dynamic

        self.cp = cp
        self._api_client = k8s_config.new_client_from_config(config_file=str(cp.kubeconfig_path))
        self._k8s_client = k8s_client
        self.dynamic = dynamic.DynamicClient(self._api_client)

    def refresh(self) -> None:
        """Forget cached discovery (after CRDs were created)."""
        self.dynamic.resources.invalidate_cache()

    def resource(self, api_version: str, kind: str):
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def path(self, api_version: str, kind: str, name: Optional[str] = None, namespace: Optional[str] = None,
             subresource: Optional[str] = None) -> str:
        res = self.resource(api_version, kind)
        base = ("/api/" if "/" not in api_version else "/apis/") + api_version
        if res.namespaced:
            if not namespace:
                raise ValueError("%s %s is namespaced: give a namespace" % (kind, name))
            base += "/namespaces/" + namespace
        base += "/" + res.name
        if name:
            base += "/" + name
        if subresource:
            base += "/" + subresource
        return base

    def apply(self, obj: Dict[str, Any], namespace: Optional[str] = None, dry_run: bool = False,
              field_manager: str = FIELD_MANAGER, force: bool = True) -> Tuple[int, Any, List[str]]:
        """Server-side apply with strict field validation. Returns (status, body, warnings)."""
        meta = obj.get("metadata", {})
        ns = meta.get("namespace") or namespace
        res = self.resource(obj["apiVersion"], obj["kind"])
        if res.namespaced and not ns:
            raise ValueError("%s/%s has no namespace" % (obj["kind"], meta.get("name")))
        if res.namespaced and "namespace" not in meta:
            obj = dict(obj, metadata=dict(meta, namespace=ns))
        query = {"fieldManager": field_manager, "fieldValidation": "Strict"}
        if force:
            query["force"] = "true"
        if dry_run:
            query["dryRun"] = "All"
        status, body, headers = self.cp.request(
            "PATCH", self.path(obj["apiVersion"], obj["kind"], meta["name"], ns if res.namespaced else None),
            body=json.dumps(obj).encode(), content_type="application/apply-patch+yaml",
            query=urllib.parse.urlencode(query))
        return status, body, warnings(headers)

    def create(self, obj: Dict[str, Any], dry_run: bool = False) -> Tuple[int, Any, List[str]]:
        meta = obj["metadata"]
        res = self.resource(obj["apiVersion"], obj["kind"])
        query = {"fieldValidation": "Strict"}
        if dry_run:
            query["dryRun"] = "All"
        status, body, headers = self.cp.request(
            "POST", self.path(obj["apiVersion"], obj["kind"], None, meta.get("namespace") if res.namespaced else None),
            body=obj, query=urllib.parse.urlencode(query))
        return status, body, warnings(headers)

    def get(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None) -> Optional[Dict[str, Any]]:
        status, body, _headers = self.cp.request("GET", self.path(api_version, kind, name, namespace))
        if status == 404:
            return None
        assert status == 200, (status, body)
        return body

    def list(self, api_version: str, kind: str, namespace: Optional[str] = None, label_selector: str = "") -> List[Dict[str, Any]]:
        res = self.resource(api_version, kind)
        path = self.path(api_version, kind, None, namespace if res.namespaced else None) if (namespace or not res.namespaced) \
            else ("/api/" if "/" not in api_version else "/apis/") + api_version + "/" + res.name
        status, body, _headers = self.cp.request("GET", path, query=urllib.parse.urlencode({"labelSelector": label_selector}) if label_selector else "")
        assert status == 200, (status, body)
        return body["items"]

    def delete(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None) -> int:
        status, _body, _headers = self.cp.request("DELETE", self.path(api_version, kind, name, namespace))
        return status

    def patch_status(self, api_version: str, kind: str, name: str, namespace: Optional[str], status_obj: Dict[str, Any]) -> Dict[str, Any]:
        """Set .status through the status subresource (merge patch) - what a controller would do."""
        status, body, _headers = self.cp.request(
            "PATCH", self.path(api_version, kind, name, namespace, "status"),
            body={"status": status_obj}, content_type="application/merge-patch+json")
        assert status == 200, (status, body)
        return body

    def wait_for(self, predicate, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


def warnings(headers: Dict[str, str]) -> List[str]:
    out = []
    for key, value in headers.items():
        if key.lower() == "warning":
            out.extend(v.strip() for v in value.split(",299") if v.strip())
    return out


def load_docs(path: Path) -> List[Dict[str, Any]]:
    return [d for d in yaml.load_all(Path(path).read_text(), Loader=_LOADER) if d]


def load_text_docs(text: str) -> List[Dict[str, Any]]:
    return [d for d in yaml.load_all(text, Loader=_LOADER) if d]


def _version_key(path: Path) -> list:
    return [int(x) if x.isdigit() else x for x in path.name.lstrip("v").split(".")]


def crd_files(crds_dir: Path, projects: Optional[Iterable[str]] = None) -> List[Path]:
    """One version per project: the newest directory of each (for Traefik: v3.5.1, what K3s v1.32.11 bundles);
    only the given projects (directory names) when `projects` is set."""
    files: List[Path] = []
    for project in sorted(p for p in crds_dir.iterdir() if p.is_dir() and (projects is None or p.name in projects)):
        versions = sorted((v for v in project.iterdir() if v.is_dir()), key=_version_key)
        files += sorted(versions[-1].glob("*.yaml"))
    return files


def sort_for_apply(objects: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Namespaces and CRDs first (as kubectl and Argo CD order them)."""
    first = {"Namespace": 0, "CustomResourceDefinition": 0, "ServiceAccount": 1, "Secret": 1, "ConfigMap": 1}
    return sorted(objects, key=lambda o: first.get(o.get("kind"), 2))
