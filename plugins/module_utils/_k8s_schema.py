# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline validation of Kubernetes manifests: core schemas plus CRD schemas.

PRIVATE to the parametric_portal.infra collection: this module is not a public API and may
change at any time without notice. Modules, filters, roles and tests of this collection use it.

* Core Kubernetes schemas come from the ``kubernetes-validate`` Python package (it ships the
  OpenAPI-derived JSON schemas per Kubernetes minor version, including a "strict" variant where
  every object schema has ``additionalProperties: false``). The newest shipped version that is
  not newer than the requested one is used (``1.32`` -> ``v1.32.0-local-strict``).
* CRD schemas come from CustomResourceDefinition YAML files (``crd_dirs``) or from CRD objects
  read from a live cluster (``crd_objects``). Each served version's ``openAPIV3Schema`` is turned
  into JSON Schema: ``x-kubernetes-*`` keywords are removed (``int-or-string`` becomes
  ``integer|string``), ``nullable: true`` adds ``null`` to the type (JSON Schema has no
  ``nullable``), the custom resource's ``metadata`` is checked against the core ObjectMeta, and in
  strict mode every object schema with ``properties`` and without
  ``x-kubernetes-preserve-unknown-fields`` gets ``additionalProperties: false`` (what
  ``kubectl --validate=strict`` does: unknown fields are errors, not silently pruned).
  CEL rules (``x-kubernetes-validations``) are not evaluated.
* An object whose apiVersion/kind has no schema is a finding, never a silent pass.
* When several CRDs define the same group/version/kind (e.g. two Traefik CRD versions in the
  searched directories), an object must be valid against every one of them.

Compiled validators are cached per process (core per Kubernetes version and strictness, CRDs per
file, modification time and strictness).
"""

from __future__ import annotations

import os
import re
import traceback
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

try:
    import yaml

    try:
        _YAML_LOADER = yaml.CSafeLoader  # libyaml: ~10x faster on the large CRD files
    except AttributeError:  # pragma: no cover - depends on how PyYAML was built
        _YAML_LOADER = yaml.SafeLoader
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only without PyYAML
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

# pip name -> import traceback of the optional libraries that could not be imported.
IMPORT_ERRORS: Dict[str, str] = {}
try:
    import jsonschema
    from referencing import Registry, Resource
except ImportError:  # pragma: no cover - exercised only without jsonschema
    IMPORT_ERRORS["jsonschema"] = traceback.format_exc()
try:
    import kubernetes_validate
except ImportError:  # pragma: no cover - exercised only without kubernetes-validate
    IMPORT_ERRORS["kubernetes-validate"] = traceback.format_exc()
HAS_JSONSCHEMA = "jsonschema" not in IMPORT_ERRORS
HAS_KUBERNETES_VALIDATE = "kubernetes-validate" not in IMPORT_ERRORS


CORE_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
OBJECT_META_REF = CORE_DEFS_URI + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def missing_libraries() -> List[Tuple[str, Optional[str]]]:
    """(pip name, import traceback) for every library this validator needs and cannot import."""
    missing = []
    if not HAS_YAML:
        missing.append(("PyYAML", YAML_IMPORT_ERROR))
    missing.extend(sorted(IMPORT_ERRORS.items()))
    return missing


class Finding(NamedTuple):
    """One validation error.

    ``obj`` is ``Kind/namespace/name`` (``Kind/name`` for objects without a namespace),
    ``path`` is dotted/indexed (``spec.template.spec.containers[0].image``; empty = the object).
    """

    source: str
    obj: str
    path: str
    message: str

    def __str__(self) -> str:
        where = self.source or "<input>"
        path = self.path or "(object)"
        return "%s: %s: %s: %s" % (where, self.obj, path, self.message)


class SchemaError(Exception):
    """Raised for unusable validator inputs (unknown Kubernetes version, unreadable CRD file)."""


# --------------------------------------------------------------------------------------------
# YAML helpers
# --------------------------------------------------------------------------------------------
def load_yaml_documents(path_or_text: Any) -> List[dict]:
    """Every non-empty YAML document of a file path (str/PathLike) or of YAML text.

    A string that names an existing file is read as a file; any other string is YAML text.
    Raises ValueError when a document is not a mapping (a manifest must be an object).
    """
    if not HAS_YAML:
        raise SchemaError("PyYAML is required to read manifests")
    text = path_or_text
    if (isinstance(path_or_text, str) and "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml", ".json"))
            and not os.path.exists(path_or_text)):
        raise SchemaError("manifest file %s does not exist" % path_or_text)
    if isinstance(path_or_text, os.PathLike) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and os.path.isfile(path_or_text)
    ):
        with open(os.fspath(path_or_text), encoding="utf-8") as handle:
            text = handle.read()
    docs = []
    for index, doc in enumerate(yaml.load_all(text, Loader=_YAML_LOADER)):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError("YAML document %d is a %s, not a mapping" % (index, type(doc).__name__))
        docs.append(doc)
    return docs


def object_id(obj: Any) -> str:
    """``Kind/namespace/name`` (or ``Kind/name``) of a manifest, tolerant of broken input."""
    if not isinstance(obj, dict):
        return "<not an object>"
    kind = obj.get("kind") or "<no kind>"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") or meta.get("generateName") or "<no name>"
    namespace = meta.get("namespace")
    if namespace:
        return "%s/%s/%s" % (kind, namespace, name)
    return "%s/%s" % (kind, name)


def format_path(parts: Iterable[Any]) -> str:
    """``['spec', 'containers', 0, 'image']`` -> ``spec.containers[0].image``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out


def split_api_version(api_version: str) -> Tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


# --------------------------------------------------------------------------------------------
# Core schemas (kubernetes-validate)
# --------------------------------------------------------------------------------------------
_CORE_CACHE: Dict[Tuple[str, bool], "_CoreSchemas"] = {}


def _schema_root() -> str:
    return os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")


def available_versions() -> List[str]:
    """Kubernetes minor versions kubernetes-validate ships schemas for (``['1.25', ...]``)."""
    if not HAS_KUBERNETES_VALIDATE:
        return []
    found = set()
    for entry in os.listdir(_schema_root()):
        match = re.match(r"^v(\d+)\.(\d+)\.\d+-local$", entry)
        if match:
            found.add((int(match.group(1)), int(match.group(2))))
    return ["%d.%d" % pair for pair in sorted(found)]


def _resolve_version(k8s_version: str) -> Tuple[int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)", str(k8s_version))
    if not match:
        raise SchemaError("k8s_version %r is not a Kubernetes version like 1.32" % (k8s_version,))
    wanted = (int(match.group(1)), int(match.group(2)))
    shipped = [tuple(int(p) for p in v.split(".")) for v in available_versions()]
    usable = [v for v in shipped if v <= wanted]
    if not usable or wanted > shipped[-1]:
        raise SchemaError(
            "kubernetes-validate ships no schemas for Kubernetes %d.%d (available: %s)"
            % (wanted[0], wanted[1], ", ".join(available_versions()) or "none")
        )
    return usable[-1]


class _CoreSchemas:
    """The definitions of one Kubernetes version and an index group/version/kind -> definition."""

    def __init__(self, directory: str, label: str):
        import json

        self.label = label
        with open(os.path.join(directory, "_definitions.json"), encoding="utf-8") as handle:
            self.document = json.load(handle)
        defs = self.document["$defs"]
        self.index: Dict[Tuple[str, str, str], str] = {}
        for name, schema in sorted(defs.items()):
            gvks = schema.get("x-kubernetes-group-version-kind") or []
            if len(gvks) != 1:  # meta types (DeleteOptions, WatchEvent...) list many; not manifests
                continue
            gvk = gvks[0]
            self.index.setdefault((gvk.get("group", ""), gvk["version"], gvk["kind"]), name)
        self.resource = Resource.from_contents(self.document)
        self.registry = Registry().with_resource(CORE_DEFS_URI, self.resource)
        self.validators: Dict[str, Any] = {}

    def validator(self, def_name: str):
        cached = self.validators.get(def_name)
        if cached is None:
            schema = {"$ref": CORE_DEFS_URI + "#/$defs/" + def_name}
            cached = jsonschema.Draft202012Validator(schema, registry=self.registry)
            self.validators[def_name] = cached
        return cached


def _core(k8s_version: str, strict: bool) -> _CoreSchemas:
    major, minor = _resolve_version(k8s_version)
    key = ("%d.%d" % (major, minor), strict)
    cached = _CORE_CACHE.get(key)
    if cached is None:
        root = _schema_root()
        prefix = "v%d.%d." % (major, minor)
        candidates = sorted(
            e for e in os.listdir(root) if e.startswith(prefix) and e.endswith("-local-strict" if strict else "-local")
        )
        if not candidates:
            raise SchemaError("kubernetes-validate has no schema directory for %s" % key[0])
        cached = _CoreSchemas(os.path.join(root, candidates[-1]), candidates[-1])
        _CORE_CACHE[key] = cached
    return cached


# --------------------------------------------------------------------------------------------
# CRD schemas
# --------------------------------------------------------------------------------------------
_JUNCTORS = ("allOf", "anyOf", "oneOf")


def crd_schema_to_jsonschema(node: Any, strict: bool = True, in_junctor: bool = False) -> Any:
    """Convert one (structural) openAPIV3Schema node of a CRD into plain JSON Schema."""
    if not isinstance(node, dict):
        return node
    out: Dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {k: crd_schema_to_jsonschema(v, strict) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "additionalItems"):
            if isinstance(value, list):
                out[key] = [crd_schema_to_jsonschema(v, strict) for v in value]
            else:
                out[key] = crd_schema_to_jsonschema(value, strict)
        elif key in _JUNCTORS and isinstance(value, list):
            out[key] = [crd_schema_to_jsonschema(v, strict, in_junctor=True) for v in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
        out.pop("anyOf", None)  # the usual [{type: integer}, {type: string}]: now redundant
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = types + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if (
        strict
        and not in_junctor
        and "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _crd_root_schema(openapi: dict, group: str, version: str, kind: str, strict: bool) -> dict:
    schema = crd_schema_to_jsonschema(openapi, strict)
    if not isinstance(schema, dict):
        schema = {}
    props = schema.setdefault("properties", {})
    api_version = "%s/%s" % (group, version) if group else version
    props["apiVersion"] = {"type": "string", "enum": [api_version]}
    props["kind"] = {"type": "string", "enum": [kind]}
    # The API server validates metadata of every custom resource as ObjectMeta.
    props["metadata"] = {"$ref": OBJECT_META_REF}
    schema.setdefault("type", "object")
    if strict and not openapi.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    return schema


class _CrdEntry(NamedTuple):
    source: str
    group: str
    kind: str
    # document loader: returns the CRD dict (files are parsed lazily, the large ones cost ~0.2 s)
    loader: Any


_FILE_CRD_CACHE: Dict[Tuple[str, float], List[dict]] = {}
_GROUP_RE = re.compile(r"^spec:\s*\n(?:[ \t].*\n|\s*\n)*?[ \t]+group:\s*['\"]?([A-Za-z0-9.-]+)", re.M)
_NAMES_KIND_RE = re.compile(r"^([ \t]+)names:\s*\n(?:\1[ \t]+.*\n)*?\1[ \t]+kind:\s*['\"]?([A-Za-z0-9]+)", re.M)
_CRD_KIND_RE = re.compile(r"^kind:\s*['\"]?CustomResourceDefinition\b", re.M)
_DOC_SEP_RE = re.compile(r"^---[ \t]*$", re.M)
CACHE_VERSION = "1"


def default_cache_dir() -> str:
    """Where parsed CRD files are cached as JSON: $PP_SCHEMA_CACHE, else ~/.cache/parametric_portal/crd-json."""
    env = os.environ.get("PP_SCHEMA_CACHE")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "parametric_portal", "crd-json")


def _parse_crd_file(path: str, cache_dir: Optional[str] = None) -> List[dict]:
    """CRD documents of a file. Parsing YAML costs ~0.2 s per large CRD (Kyverno's are 1.4 MB), so the
    result is kept per process and, when ``cache_dir`` is set, as JSON keyed by the file's SHA-256
    (a changed file gets a new key; an unwritable cache is silently skipped)."""
    import hashlib
    import json

    key = (path, os.path.getmtime(path))
    docs = _FILE_CRD_CACHE.get(key)
    if docs is not None:
        return docs
    cache_file = None
    if cache_dir:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        cache_file = os.path.join(cache_dir, "%s-v%s.json" % (digest, CACHE_VERSION))
        try:
            with open(cache_file, encoding="utf-8") as handle:
                docs = json.load(handle)
        except (OSError, ValueError):
            docs = None
    if docs is None:
        try:
            docs = [d for d in load_yaml_documents(path) if d.get("kind") == "CustomResourceDefinition"]
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise SchemaError("cannot read CRD file %s: %s" % (path, exc))
        if cache_file:
            try:
                os.makedirs(cache_dir, exist_ok=True)
                tmp = "%s.%d.tmp" % (cache_file, os.getpid())
                with open(tmp, "w", encoding="utf-8") as handle:
                    json.dump(docs, handle)
                os.replace(tmp, cache_file)
            except (OSError, TypeError, ValueError):
                pass
    _FILE_CRD_CACHE[key] = docs
    return docs


def _index_crd_file(path: str, cache_dir: Optional[str] = None) -> List[_CrdEntry]:
    """Cheap index of a CRD file: group and kind by regex, full parse deferred until needed."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if not _CRD_KIND_RE.search(text):
        return []
    if len(_CRD_KIND_RE.findall(text)) == 1 and len(_DOC_SEP_RE.findall(text)) <= 1:
        crd_chunks = [text]  # the usual layout: one CRD per file (avoid splitting megabytes)
    else:
        crd_chunks = [c for c in _DOC_SEP_RE.split(text) if _CRD_KIND_RE.search(c)]
    entries = []
    if len(crd_chunks) == 1:
        group = _GROUP_RE.search(crd_chunks[0])
        kind = _NAMES_KIND_RE.search(crd_chunks[0])
        if group and kind:
            g, k = group.group(1), kind.group(2)

            def loader(path=path, g=g, k=k):
                for doc in _parse_crd_file(path, cache_dir):
                    spec = doc.get("spec") or {}
                    if spec.get("group") == g and (spec.get("names") or {}).get("kind") == k:
                        return doc
                raise SchemaError("%s: CRD %s/%s not found when parsing" % (path, g, k))

            return [_CrdEntry(path, g, k, loader)]
    # unusual layout (several CRDs in one file, other indentation): parse it now
    for doc in _parse_crd_file(path, cache_dir):
        spec = doc.get("spec") or {}
        entries.append(
            _CrdEntry(path, spec.get("group", ""), (spec.get("names") or {}).get("kind", ""), (lambda d=doc: d))
        )
    return entries


def find_crd_files(crd_dirs: Iterable[str]) -> List[str]:
    """Every *.yaml / *.yml / *.json file under the given directories (or files), sorted."""
    files = []
    for entry in crd_dirs:
        entry = os.fspath(entry)
        if os.path.isfile(entry):
            files.append(entry)
            continue
        if not os.path.isdir(entry):
            raise SchemaError("CRD directory %s does not exist" % entry)
        for root, dirs, names in os.walk(entry):
            dirs.sort()
            for name in sorted(names):
                if name.endswith((".yaml", ".yml", ".json")):
                    files.append(os.path.join(root, name))
    return files


# --------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------
class SchemaValidator:
    """Validates manifests against Kubernetes core schemas and CRD schemas, offline.

    :param crd_dirs: directories (searched recursively) or files holding CRD YAML.
    :param k8s_version: Kubernetes minor version of the core schemas (``1.32``).
    :param strict: reject unknown fields (``kubectl --validate=strict``).
    :param crd_objects: CRD objects as dicts, e.g. read from a live cluster.
    :param cache_dir: JSON cache of parsed CRD files; ``""`` = default_cache_dir(), ``None`` = no disk cache.
    """

    def __init__(
        self,
        crd_dirs: Optional[List[str]] = None,
        k8s_version: str = "1.32",
        strict: bool = True,
        crd_objects: Optional[List[dict]] = None,
        cache_dir: Optional[str] = "",
    ):
        missing = missing_libraries()
        if missing:
            raise SchemaError("missing Python libraries: %s" % ", ".join(item[0] for item in missing))
        self.k8s_version = k8s_version
        self.strict = strict
        self.core = _core(k8s_version, strict)
        self.registry = self.core.registry
        self.cache_dir = default_cache_dir() if cache_dir == "" else cache_dir
        self.crd_files = find_crd_files(crd_dirs or [])
        self._crds: Dict[Tuple[str, str], List[_CrdEntry]] = {}
        for path in self.crd_files:
            for entry in _index_crd_file(path, self.cache_dir):
                self._crds.setdefault((entry.group, entry.kind), []).append(entry)
        for index, doc in enumerate(crd_objects or []):
            spec = doc.get("spec") or {}
            source = "cluster:%s" % ((doc.get("metadata") or {}).get("name") or index)
            entry = _CrdEntry(source, spec.get("group", ""), (spec.get("names") or {}).get("kind", ""), (lambda d=doc: d))
            self._crds.setdefault((entry.group, entry.kind), []).append(entry)
        self._crd_validators: Dict[Tuple[str, str, str], List[Tuple[str, Any]]] = {}

    @property
    def core_schema_label(self) -> str:
        """Name of the kubernetes-validate schema set in use (e.g. ``v1.32.0-local-strict``)."""
        return self.core.label

    def known_crd_kinds(self) -> List[str]:
        return sorted("%s/%s" % key for key in self._crds)

    def _crd_validators_for(self, group: str, version: str, kind: str) -> Tuple[List[Tuple[str, Any]], str]:
        """([(crd source, validator)], reason when empty)."""
        key = (group, version, kind)
        if key in self._crd_validators:
            return self._crd_validators[key], ""
        entries = self._crds.get((group, kind)) or []
        if not entries:
            return [], ""
        out = []
        not_served = []
        for entry in entries:
            doc = entry.loader()
            for ver in (doc.get("spec") or {}).get("versions") or []:
                if ver.get("name") != version:
                    continue
                if not ver.get("served", False):
                    not_served.append(entry.source)
                    continue
                openapi = (ver.get("schema") or {}).get("openAPIV3Schema") or {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                }
                schema = _crd_root_schema(openapi, group, version, kind, self.strict)
                out.append((entry.source, jsonschema.Draft202012Validator(schema, registry=self.registry)))
        if not out:
            if not_served:
                return [], "version %s of %s.%s is not served (CRD %s)" % (version, kind, group, not_served[0])
            served = sorted(
                {v.get("name") for e in entries for v in (e.loader().get("spec") or {}).get("versions") or []}
            )
            return [], "CRD %s.%s has no version %s (versions: %s)" % (kind, group, version, ", ".join(served))
        self._crd_validators[key] = out
        return out, ""

    def validate(self, obj: dict, source: str = "") -> List[Finding]:
        """All findings for one manifest (empty list = valid)."""
        oid = object_id(obj)
        if not isinstance(obj, dict):
            return [Finding(source, oid, "", "manifest is not an object")]
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        findings = []
        if not isinstance(api_version, str) or not api_version:
            findings.append(Finding(source, oid, "apiVersion", "apiVersion is missing"))
        if not isinstance(kind, str) or not kind:
            findings.append(Finding(source, oid, "kind", "kind is missing"))
        if findings:
            return findings
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
            findings.append(Finding(source, oid, "metadata.name", "metadata.name is required"))
        group, version = split_api_version(api_version)
        validators: List[Tuple[str, Any]] = []
        core_name = self.core.index.get((group, version, kind))
        if core_name:
            validators.append(("", self.core.validator(core_name)))
        else:
            validators, reason = self._crd_validators_for(group, version, kind)
            if not validators:
                findings.append(
                    Finding(
                        source,
                        oid,
                        "",
                        reason
                        or "no schema for apiVersion %s kind %s (not a Kubernetes %s core type; no CRD for it in %s)"
                        % (api_version, kind, self.k8s_version, "the given CRD sources" if self._crds else "no CRD sources given"),
                    )
                )
                return findings
        # (path, message) -> schema sources that reported it; with several CRDs for one kind a
        # finding names its schema unless every schema reported it.
        reported: Dict[Tuple[str, str], List[str]] = {}
        for crd_source, validator in validators:
            for err in validator.iter_errors(obj):
                for path, message in _error_to_messages(err):
                    sources = reported.setdefault((path, message), [])
                    if crd_source not in sources:
                        sources.append(crd_source)
        for (path, message), sources in sorted(reported.items()):
            if len(validators) > 1 and len(sources) < len(validators):
                message = "%s [schema: %s]" % (message, ", ".join(sources))
            findings.append(Finding(source, oid, path, message))
        return findings

    def validate_documents(self, docs: Iterable[dict], source: str = "") -> List[Finding]:
        """Findings for many manifests; ``kind: *List`` documents are expanded into their items."""
        findings = []
        for doc in docs:
            if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
                findings.extend(self.validate_documents(doc["items"], source))
            else:
                findings.extend(self.validate(doc, source))
        return findings


def _error_to_messages(err: Any) -> List[Tuple[str, str]]:
    """(path, message) pairs for one jsonschema error; unknown fields get one pair each."""
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict) and isinstance(err.schema, dict):
        allowed = set(err.schema.get("properties") or {})
        patterns = list(err.schema.get("patternProperties") or {})
        extras = sorted(k for k in err.instance if k not in allowed and not any(re.search(p, k) for p in patterns))
        if extras:
            return [(format_path(path + [extra]), "unknown field %r" % (extra,)) for extra in extras]
    message = err.message
    if err.validator in ("oneOf", "anyOf") and err.context:
        best = jsonschema.exceptions.best_match(err.context)
        if best is not None:
            message = "%s (%s)" % (message, best.message)
    return [(format_path(path), message)]


def format_report(findings: Iterable[Finding]) -> str:
    """Readable report: one line per finding, ``file: Kind/ns/name: path: message``."""
    lines = [str(f) for f in findings]
    return "\n".join(lines) if lines else "no findings"
