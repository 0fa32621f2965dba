# -*- coding: utf-8 -*-
# Copyright (c) parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE to the parametric_portal.infra collection: may change or go away at any time.

Sealed Secrets (bitnami-labs/sealed-secrets) encryption, byte-compatible with the controller
(wire format unchanged since v0.9; checked against v0.29.x, the app version of chart 2.17.x).

Per item:  base64std( BE16(len(R)) || R || AES-256-GCM(K, nonce=12 zero bytes, P) || tag )
           R = RSA-OAEP(SHA-256, MGF1-SHA-256, label=L, K), K = 32 fresh random bytes.
Label L:   strict "<ns>/<name>", namespace-wide "<ns>", cluster-wide "" (from the top-level
           annotations sealedsecrets.bitnami.com/{namespace,cluster}-wide == "true").

Idempotence is decided on the plaintext side with keyed fingerprints (HMAC-SHA256 under a secret
key the caller supplies) stored in the annotation FINGERPRINT_ANNOTATION; nothing stored reveals
the plaintext without that key. Used by plugins/modules/seal_secret.py and
plugins/filter/sealing_cert_info.py.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import hashlib
import hmac
import json
import os
import re
import struct
import traceback

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover - reported through missing_required_lib by the callers
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

try:
    import yaml
except ImportError:  # pragma: no cover
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
    _YAML_DUMPER = _YAML_LOADER = None
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
    # The C (libyaml) classes are 5-8x faster than the pure-Python ones for big manifests.
    _YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    _YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

API_VERSION = "bitnami.com/v1alpha1"
KIND = "SealedSecret"

SCOPE_STRICT = "strict"
SCOPE_NAMESPACE_WIDE = "namespace-wide"
SCOPE_CLUSTER_WIDE = "cluster-wide"
SCOPES = (SCOPE_STRICT, SCOPE_NAMESPACE_WIDE, SCOPE_CLUSTER_WIDE)
ANNOTATION_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
ANNOTATION_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
SCOPE_ANNOTATIONS = (ANNOTATION_NAMESPACE_WIDE, ANNOTATION_CLUSTER_WIDE)

# Keyed plaintext fingerprints (JSON object key -> "hmac-sha256-v2:<base64>"), top-level metadata only:
# the controller never copies it into the Secret. v2 binds scope, namespace and name into the HMAC input,
# so the same value in two SealedSecrets gives two unrelated fingerprints whatever the scope. v1
# ("hmac-sha256:", bound only to the OAEP label, which has no name in the non-strict scopes) is
# recognised and never trusted: such an item is resealed and reported as migrated.
FINGERPRINT_ANNOTATION = "infra.parametric-portal.com/fingerprints"
_FINGERPRINT_PREFIX = "hmac-sha256-v2:"
_FINGERPRINT_PREFIX_V1 = "hmac-sha256:"
_FINGERPRINT_CONTEXT = b"parametric_portal.infra sealing fingerprint v2\x00"

SESSION_KEY_BYTES = 32
_ZERO_NONCE = b"\x00" * 12
_GCM_TAG_BYTES = 16

# Server-populated metadata that kubeseal drops from the template (NewSealedSecret).
_SERVER_FIELDS = (
    "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "ownerReferences",
)
_LAST_APPLIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)
_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


class SealingError(Exception):
    """An input or certificate problem; the message never contains plaintext."""


# --------------------------------------------------------------------------------------------
# Certificate
# --------------------------------------------------------------------------------------------

def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _not_before(cert):
    value = getattr(cert, "not_valid_before_utc", None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    return value


_PEM_BLOCK_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


class SealingCert(object):
    """A parsed controller certificate. Parse once, seal many values with it."""

    def __init__(self, certificate):
        self.certificate = certificate
        self.public_key = certificate.public_key()
        if not isinstance(self.public_key, rsa.RSAPublicKey):
            raise SealingError(
                "the certificate's public key is %s; sealed-secrets needs an RSA key"
                % type(self.public_key).__name__.lstrip("_")
            )
        self.key_size = self.public_key.key_size
        self.key_bytes = (self.key_size + 7) // 8
        self._paddings = {}

    @property
    def not_after(self):
        return _not_after(self.certificate)

    @property
    def not_before(self):
        return _not_before(self.certificate)

    @property
    def fingerprint_sha256(self):
        return binascii.hexlify(self.certificate.fingerprint(hashes.SHA256())).decode("ascii")

    def facts(self):
        """Public facts about the certificate (no secret material)."""
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return {
            "fingerprint_sha256": self.fingerprint_sha256,
            "public_key_sha256": hashlib.sha256(der).hexdigest(),
            "key_type": "RSA",
            "key_size": self.key_size,
            "not_before": self.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subject": self.certificate.subject.rfc4514_string(),
            "issuer": self.certificate.issuer.rfc4514_string(),
            "serial_number": "%x" % self.certificate.serial_number,
        }

    def oaep(self, label):
        """OAEP padding (SHA-256 for the digest and MGF1, like Go's rsa.EncryptOAEP), cached per label."""
        pad = self._paddings.get(label)
        if pad is None:
            pad = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)
            self._paddings[label] = pad
        return pad


def load_certificate(data, now=None, check_expiry=True):
    """Parse the first certificate of PEM ``data`` like kubeseal: RSA only, now <= NotAfter.

    A bare public key is refused (kubeseal refuses it too: the certificate carries the expiry).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    blocks = _PEM_BLOCK_RE.findall(data or b"")
    if not blocks:
        raise SealingError("no PEM data found: expected the controller's certificate (-----BEGIN CERTIFICATE-----)")
    if b"CERTIFICATE" not in blocks:
        if any(b"PUBLIC KEY" in b for b in blocks):
            raise SealingError("a bare public key is not accepted (kubeseal refuses it too): give the controller's certificate")
        raise SealingError("no certificate found in the PEM data (found %s)" % ", ".join(b.decode("ascii") for b in blocks))
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise SealingError("cannot parse the certificate: %s" % exc)
    cert = SealingCert(certs[0])
    if check_expiry:
        now = now or _utcnow()
        if now > cert.not_after:
            raise SealingError(
                "the certificate expired at %s (fingerprint %s); fetch the controller's current certificate"
                % (cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"), cert.fingerprint_sha256)
            )
    return cert


# --------------------------------------------------------------------------------------------
# Scope and label
# --------------------------------------------------------------------------------------------

def scope_from_annotations(annotations):
    """The scope the controller derives from metadata annotations: only the exact string "true" counts."""
    annotations = annotations or {}
    if annotations.get(ANNOTATION_CLUSTER_WIDE) == "true":
        return SCOPE_CLUSTER_WIDE
    if annotations.get(ANNOTATION_NAMESPACE_WIDE) == "true":
        return SCOPE_NAMESPACE_WIDE
    return SCOPE_STRICT


def apply_scope_annotations(annotations, scope):
    """Return a copy of ``annotations`` with the scope annotations set for ``scope`` (upstream UpdateScopeAnnotations)."""
    result = dict(annotations or {})
    for key in SCOPE_ANNOTATIONS:
        result.pop(key, None)
    if scope == SCOPE_NAMESPACE_WIDE:
        result[ANNOTATION_NAMESPACE_WIDE] = "true"
    elif scope == SCOPE_CLUSTER_WIDE:
        result[ANNOTATION_CLUSTER_WIDE] = "true"
    return result


def check_scope(scope, name, namespace, raw=False):
    if scope not in SCOPES:
        raise SealingError("unknown scope %r: expected one of %s" % (scope, ", ".join(SCOPES)))
    if scope in (SCOPE_STRICT, SCOPE_NAMESPACE_WIDE) and not namespace:
        raise SealingError("scope %s needs a namespace" % scope)
    if scope == SCOPE_STRICT and not name:
        raise SealingError("scope strict needs a name")
    if not raw and not name:
        raise SealingError("a SealedSecret needs a name")


def encryption_label(scope, namespace, name):
    """OAEP label: strict "<ns>/<name>", namespace-wide "<ns>", cluster-wide b"" (upstream EncryptionLabel)."""
    if scope == SCOPE_CLUSTER_WIDE:
        return b""
    if scope == SCOPE_NAMESPACE_WIDE:
        return namespace.encode("utf-8")
    if scope == SCOPE_STRICT:
        return ("%s/%s" % (namespace, name)).encode("utf-8")
    raise SealingError("unknown scope %r: expected one of %s" % (scope, ", ".join(SCOPES)))


# --------------------------------------------------------------------------------------------
# Hybrid encryption (upstream pkg/crypto HybridEncrypt / HybridDecrypt)
# --------------------------------------------------------------------------------------------

def hybrid_encrypt(cert, plaintext, label, session_key=None):
    """Seal ``plaintext`` bytes; returns the binary ciphertext. ``session_key`` is for test vectors only."""
    key = os.urandom(SESSION_KEY_BYTES) if session_key is None else session_key
    rsa_part = cert.public_key.encrypt(key, cert.oaep(label))
    return struct.pack(">H", len(rsa_part)) + rsa_part + AESGCM(key).encrypt(_ZERO_NONCE, plaintext, None)


def seal_value(cert, plaintext, label, session_key=None):
    """Seal one item: the one-line, padded, standard base64 text the controller expects."""
    return base64.b64encode(hybrid_encrypt(cert, plaintext, label, session_key)).decode("ascii")


def hybrid_decrypt(private_keys, ciphertext, label):
    """Open a sealed item the way the controller does (try every private key, OAEP with the label,
    then GCM with the zero nonce). Used by tests and by backup verification; never by sealing."""
    if len(ciphertext) < 2:
        raise SealingError("ciphertext too short")
    rsa_len = struct.unpack(">H", ciphertext[:2])[0]
    if len(ciphertext) < 2 + rsa_len:
        raise SealingError("ciphertext too short")
    rsa_part, aes_part = ciphertext[2:2 + rsa_len], ciphertext[2 + rsa_len:]
    pad = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)
    for key in private_keys:
        k = (key.key_size + 7) // 8
        if len(rsa_part) > k:
            continue
        try:  # Go accepts an RSA part shorter than k (it is a big integer); OpenSSL wants k bytes
            session_key = key.decrypt(rsa_part.rjust(k, b"\x00"), pad)
        except ValueError:
            continue
        try:
            return AESGCM(session_key).decrypt(_ZERO_NONCE, aes_part, None)
        except Exception:  # cryptography raises InvalidTag; the controller stops here too
            raise SealingError("message authentication failed")
    raise SealingError("no key could decrypt secret")


def load_private_keys(pem_texts):
    """RSA private keys from PEM texts (tls.key of the controller's key Secrets)."""
    keys = []
    for text in pem_texts:
        if isinstance(text, str):
            text = text.encode("utf-8")
        keys.append(serialization.load_pem_private_key(text, password=None))
    return keys


# --------------------------------------------------------------------------------------------
# Fingerprints (plaintext-side idempotence without storing anything that reveals the plaintext)
# --------------------------------------------------------------------------------------------

def _length_prefixed(*fields):
    return b"".join(struct.pack(">I", len(f)) + f for f in (x.encode("utf-8") for x in fields))


class Fingerprinter(object):
    """Keyed fingerprints of one SealedSecret's items: the HMAC state over the key, the context and
    scope/namespace/name is computed once and copied per item."""

    def __init__(self, fingerprint_key, scope, namespace, name):
        if isinstance(fingerprint_key, str):
            fingerprint_key = fingerprint_key.encode("utf-8")
        self._state = hmac.new(fingerprint_key, _FINGERPRINT_CONTEXT + _length_prefixed(scope, namespace or "", name or ""),
                               "sha256")

    def __call__(self, item_key, plaintext):
        mac = self._state.copy()
        mac.update(_length_prefixed(item_key))
        mac.update(plaintext)
        return _FINGERPRINT_PREFIX + base64.b64encode(mac.digest()).decode("ascii")


def fingerprint(fingerprint_key, scope, namespace, name, item_key, plaintext):
    """HMAC-SHA256(fingerprint_key, context || for scope, namespace, name, key: BE32(len) || bytes || plaintext)."""
    return Fingerprinter(fingerprint_key, scope, namespace, name)(item_key, plaintext)


def is_v1_fingerprint(value):
    """A fingerprint written before v2 (not bound to the name in the non-strict scopes)."""
    return isinstance(value, str) and value.startswith(_FINGERPRINT_PREFIX_V1)


def parse_fingerprints(annotations):
    raw = (annotations or {}).get(FINGERPRINT_ANNOTATION)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return dict((k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, str))


def dump_fingerprints(fingerprints):
    return json.dumps(fingerprints, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# Inputs -> request
# --------------------------------------------------------------------------------------------

def _kind(value):
    """The type of a value in words, for error messages (never the value: it may be a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a %s" % type(value).__name__


def _mapping(where, value):
    """``value`` as a dict (None counts as empty); SealingError naming ``where`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SealingError("%s must be a mapping (got %s)" % (where, _kind(value)))
    return value


def _string_map(where, value):
    """A mapping of strings to strings (labels, annotations): Kubernetes accepts nothing else."""
    value = _mapping(where, value)
    for key, item in value.items():
        if not isinstance(key, str):
            raise SealingError("%s has a key that is %s; keys must be strings" % (where, _kind(key)))
        if not isinstance(item, str):
            raise SealingError("%s.%s must be a string (got %s)" % (where, key, _kind(item)))
    return value


def _optional_string(where, value):
    if value is not None and not isinstance(value, str):
        raise SealingError("%s must be a string (got %s)" % (where, _kind(value)))
    return value


def _check_item_key(where, key):
    if not isinstance(key, str) or not key or len(key) > 253 or not _KEY_RE.match(key):
        raise SealingError(
            "%s key %r is not a valid Secret key (letters, digits, '-', '_', '.'; at most 253 characters)" % (where, key)
        )


def _secret_items(where, mapping):
    """(key, value) of a Secret's data or stringData with checked keys; a null value is the empty string."""
    for key, value in _mapping(where, mapping).items():
        _check_item_key(where, key)
        yield key, "" if value is None else value


def decode_data(data, where="data"):
    """Base64-decode Secret.data values; the error names the key, never the value."""
    items = {}
    for key, value in _secret_items(where, data):
        if not isinstance(value, str):
            raise SealingError("%s.%s must be a base64 string (got %s)" % (where, key, _kind(value)))
        try:
            items[key] = base64.b64decode("".join(value.split()).encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise SealingError("%s.%s is not valid base64 (standard alphabet, padded)" % (where, key))
    return items


def encode_string_data(string_data, where="string_data"):
    items = {}
    for key, value in _secret_items(where, string_data):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise SealingError("%s.%s must be a string (got %s)" % (where, key, _kind(value)))
        items[key] = str(value).encode("utf-8")
    return items


def _clean_metadata(meta, where="secret.metadata"):
    meta = copy.deepcopy(_mapping(where, meta))
    _string_map(where + ".annotations", meta.get("annotations"))
    _string_map(where + ".labels", meta.get("labels"))
    for field in ("name", "namespace"):
        _optional_string("%s.%s" % (where, field), meta.get(field))
    for field in _SERVER_FIELDS:
        meta.pop(field, None)
    annotations = meta.get("annotations") or {}
    for key in _LAST_APPLIED:
        annotations.pop(key, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if not meta.get("labels"):
        meta.pop("labels", None)
    return meta


class SealRequest(object):
    """Normalised, validated input: where to seal and what (items are plaintext bytes)."""

    def __init__(self, name, namespace, scope, items, labels=None, annotations=None, secret_type=None,
                 immutable=None, template_extra=None):
        self.name = name
        self.namespace = namespace
        self.scope = scope
        self.items = items
        self.labels = labels
        self.annotations = annotations
        self.type = secret_type
        self.immutable = immutable
        self.template_extra = template_extra or {}

    @property
    def label(self):
        return encryption_label(self.scope, self.namespace, self.name)


def build_request(name=None, namespace=None, scope=None, data=None, string_data=None, secret_type=None,
                  labels=None, annotations=None, immutable=None, secret=None, raw=False):
    """Validate module-style inputs (options or a whole Secret manifest) into a SealRequest.

    Scope: an explicit namespace-wide/cluster-wide wins (kubeseal --scope); otherwise the Secret's
    scope annotations; otherwise strict. An explicit strict that contradicts the Secret's annotation
    is an error (kubeseal would silently keep the annotation).
    """
    if scope is not None and scope not in SCOPES:
        raise SealingError("unknown scope %r: expected one of %s" % (scope, ", ".join(SCOPES)))
    template_meta = {}
    items = {}
    if secret is not None:
        if not isinstance(secret, dict):
            raise SealingError("secret must be a Secret manifest (a mapping)")
        if secret.get("kind", "Secret") != "Secret":
            raise SealingError("secret has kind %r; expected kind Secret" % secret.get("kind"))
        if secret.get("apiVersion", "v1") != "v1":
            raise SealingError("secret has apiVersion %r; expected v1" % secret.get("apiVersion"))
        template_meta = _clean_metadata(secret.get("metadata"))
        secret_scope = scope_from_annotations(template_meta.get("annotations"))
        if scope == SCOPE_STRICT and secret_scope != SCOPE_STRICT:
            raise SealingError("scope strict conflicts with the Secret's %s annotation; drop one of them" % secret_scope)
        scope = scope or secret_scope
        if namespace and template_meta.get("namespace") and namespace != template_meta["namespace"]:
            raise SealingError(
                "namespace %r differs from the Secret's metadata.namespace %r (kubeseal >= 0.31 refuses this too)"
                % (namespace, template_meta["namespace"])
            )
        name = name or template_meta.get("name")
        namespace = namespace or template_meta.get("namespace")
        items.update(decode_data(secret.get("data"), "secret.data"))
        items.update(encode_string_data(secret.get("stringData"), "secret.stringData"))
        if secret_type is None:
            secret_type = _optional_string("secret.type", secret.get("type")) or None
        if immutable is None:
            immutable = secret.get("immutable")
            if immutable is not None and not isinstance(immutable, bool):
                raise SealingError("secret.immutable must be true or false (got %s)" % _kind(immutable))
        template_meta.pop("name", None)
        template_meta.pop("namespace", None)
    scope = scope or SCOPE_STRICT
    check_scope(scope, name, namespace, raw=raw)
    items.update(decode_data(data, "data"))
    items.update(encode_string_data(string_data, "string_data"))  # stringData wins on a clash, like kubectl
    merged_labels = dict(template_meta.pop("labels", None) or {})
    merged_labels.update(labels or {})
    merged_annotations = dict(template_meta.pop("annotations", None) or {})
    merged_annotations.update(annotations or {})
    for key in SCOPE_ANNOTATIONS:
        merged_annotations.pop(key, None)
    for where, mapping in (("labels", merged_labels), ("annotations", merged_annotations)):
        for key, value in mapping.items():
            if not isinstance(value, str):
                raise SealingError("%s.%s must be a string" % (where, key))
    return SealRequest(
        name=name, namespace=namespace or None, scope=scope, items=items,
        labels=merged_labels if (labels is not None or merged_labels) else None,
        annotations=merged_annotations if (annotations is not None or merged_annotations) else None,
        secret_type=secret_type, immutable=immutable, template_extra=template_meta,
    )


# --------------------------------------------------------------------------------------------
# SealedSecret assembly, merge and YAML
# --------------------------------------------------------------------------------------------

def load_sealed_secret(text):
    """Parse an existing SealedSecret file (YAML or JSON) for merging."""
    try:
        obj = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise SealingError("the existing file is not valid YAML: %s" % exc)
    if obj is None:
        return None
    if not isinstance(obj, dict) or obj.get("kind") != KIND or obj.get("apiVersion") != API_VERSION:
        raise SealingError("the existing file is not a %s %s; refusing to overwrite it" % (API_VERSION, KIND))
    check_sealed_secret_shape(obj)
    return obj


def check_sealed_secret_shape(obj):
    """The fields the merge reads must have the types Kubernetes gives them; SealingError naming the field
    (and refusing to overwrite the file) otherwise, instead of a traceback halfway through the merge."""
    where = "the existing SealedSecret's "
    meta = _mapping(where + "metadata", obj.get("metadata"))
    for field in ("name", "namespace"):
        _optional_string(where + "metadata." + field, meta.get(field))
    _string_map(where + "metadata.annotations", meta.get("annotations"))
    _string_map(where + "metadata.labels", meta.get("labels"))
    spec = _mapping(where + "spec", obj.get("spec"))
    encrypted = _mapping(where + "spec.encryptedData", spec.get("encryptedData"))
    for key, value in encrypted.items():
        _check_item_key(where + "spec.encryptedData", key)
        if not isinstance(value, str):
            raise SealingError("%sspec.encryptedData.%s must be a string (got %s)" % (where, key, _kind(value)))
    template = _mapping(where + "spec.template", spec.get("template"))
    tmeta = _mapping(where + "spec.template.metadata", template.get("metadata"))
    _string_map(where + "spec.template.metadata.annotations", tmeta.get("annotations"))
    _string_map(where + "spec.template.metadata.labels", tmeta.get("labels"))
    _optional_string(where + "spec.template.type", template.get("type"))


def _yaml(obj):
    return yaml.dump(obj, Dumper=_YAML_DUMPER, default_flow_style=False, sort_keys=True, allow_unicode=True, width=1 << 30)


# A key/value that PyYAML writes as a plain scalar, unchanged; anything else goes through PyYAML.
_PLAIN_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_RESOLVING_WORDS = frozenset(("y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf"))
_PLAIN_B64_RE = re.compile(r"^[A-Za-z0-9+/]{16,}={0,2}$")
_SENTINEL = "__parametric_portal_sealing_encrypted_data__"


def _encrypted_data_lines(encrypted):
    lines = []
    for key in sorted(encrypted):
        value = encrypted[key]
        if (len(key) < 120 and _PLAIN_KEY_RE.match(key) and key.lower() not in _RESOLVING_WORDS
                and isinstance(value, str) and _PLAIN_B64_RE.match(value) and value[0] not in "+/"):
            lines.append("    %s: %s\n" % (key, value))
        else:
            lines.append("".join("    " + line + "\n" for line in _yaml({key: value}).splitlines()))
    return "".join(lines)


def dump_yaml(obj):
    """kubeseal -o yaml style: '---', keys sorted, 2-space indent, one line per value.

    The result equals PyYAML's own output (tests check it); spec.encryptedData, which holds nearly all
    of the bytes, is written directly because PyYAML's Python representer costs as much as sealing."""
    spec = obj.get("spec") or {}
    encrypted = spec.get("encryptedData")
    if not encrypted or not isinstance(encrypted, dict):
        return "---\n" + _yaml(obj)
    shallow = dict(obj)
    shallow["spec"] = dict(spec)
    shallow["spec"]["encryptedData"] = _SENTINEL
    text = _yaml(shallow)
    marker = "\n  encryptedData: %s\n" % _SENTINEL
    if text.count(marker) != 1:
        return "---\n" + _yaml(obj)
    return "---\n" + text.replace(marker, "\n  encryptedData:\n" + _encrypted_data_lines(encrypted))


class SealResult(object):
    def __init__(self, obj, added, changed, unchanged, kept, removed, migrated=None):
        self.object = obj
        self.added = added
        self.changed = changed
        self.unchanged = unchanged
        self.kept = kept
        self.removed = removed
        self.migrated = migrated or []

    def key_report(self):
        return {"added": self.added, "changed": self.changed, "unchanged": self.unchanged,
                "kept": self.kept, "removed": self.removed, "migrated": self.migrated}


def seal(cert, request, existing=None, fingerprint_key=None, remove_keys=None, force=False):
    """Build the SealedSecret for ``request``, merging into ``existing`` (a parsed SealedSecret or None).

    Items whose keyed fingerprint matches the one stored in ``existing`` keep their ciphertext, so an
    unchanged input yields an identical object. Without ``fingerprint_key`` every given item is resealed
    and its stored fingerprint dropped.
    """
    label = request.label
    old_meta = {}
    old_template = {}
    old_encrypted = {}
    old_fps = {}
    if existing:
        check_sealed_secret_shape(existing)
        old_meta = copy.deepcopy(existing.get("metadata") or {})
        spec = existing.get("spec") or {}
        old_template = copy.deepcopy(spec.get("template") or {})
        old_encrypted = dict(spec.get("encryptedData") or {})
        old_scope = scope_from_annotations(old_meta.get("annotations"))
        mismatch = []
        if old_meta.get("name") != request.name:
            mismatch.append("name %r (requested %r)" % (old_meta.get("name"), request.name))
        if (old_meta.get("namespace") or None) != request.namespace:
            mismatch.append("namespace %r (requested %r)" % (old_meta.get("namespace"), request.namespace))
        if old_scope != request.scope:
            mismatch.append("scope %s (requested %s)" % (old_scope, request.scope))
        if mismatch:
            raise SealingError(
                "the existing SealedSecret has a different %s; its items could not be decrypted under the "
                "requested one: use another dest or remove the file" % ", ".join(mismatch)
            )
        old_fps = parse_fingerprints(old_meta.get("annotations"))

    encrypted = dict(old_encrypted)
    fps = dict((k, v) for k, v in old_fps.items() if k in encrypted)
    added, changed, unchanged, removed = [], [], [], []
    for key in remove_keys or ():
        if key in encrypted:
            del encrypted[key]
            fps.pop(key, None)
            removed.append(key)
    migrated = []
    fingerprinter = Fingerprinter(fingerprint_key, request.scope, request.namespace, request.name) if fingerprint_key else None
    for key, plaintext in request.items.items():
        fp = fingerprinter(key, plaintext) if fingerprinter else None
        if key in encrypted and fp is not None and not force and hmac.compare_digest(fps.get(key, ""), fp):
            unchanged.append(key)
            continue
        if key in encrypted and is_v1_fingerprint(fps.get(key)):
            migrated.append(key)
        (changed if key in encrypted else added).append(key)
        encrypted[key] = seal_value(cert, plaintext, label)
        if fp is None:
            fps.pop(key, None)
        else:
            fps[key] = fp
    kept = sorted(k for k in encrypted if k not in request.items and k not in removed)

    # Top-level metadata: keep what others put there, own name/namespace/scope/fingerprints.
    meta = old_meta
    meta["name"] = request.name
    if request.namespace:
        meta["namespace"] = request.namespace
    else:
        meta.pop("namespace", None)
    meta["creationTimestamp"] = None
    top_annotations = apply_scope_annotations(meta.get("annotations"), request.scope)
    if fps:
        top_annotations[FINGERPRINT_ANNOTATION] = dump_fingerprints(fps)
    else:
        top_annotations.pop(FINGERPRINT_ANNOTATION, None)
    if top_annotations:
        meta["annotations"] = top_annotations
    else:
        meta.pop("annotations", None)

    # Template: a copy of the Secret's metadata (kubeseal keeps name and namespace there too).
    template = old_template
    tmeta = template.get("metadata") or {}
    tmeta.update(copy.deepcopy(request.template_extra))
    tmeta["name"] = request.name
    if request.namespace:
        tmeta["namespace"] = request.namespace
    else:
        tmeta.pop("namespace", None)
    tmeta["creationTimestamp"] = None
    labels = dict(tmeta.get("labels") or {})
    labels.update(request.labels or {})
    if labels:
        tmeta["labels"] = labels
    t_annotations = dict(tmeta.get("annotations") or {})
    t_annotations.update(request.annotations or {})
    t_annotations = apply_scope_annotations(t_annotations, request.scope)
    if t_annotations:
        tmeta["annotations"] = t_annotations
    else:
        tmeta.pop("annotations", None)
    template["metadata"] = tmeta
    if request.type:
        template["type"] = request.type
    if request.immutable is not None:
        template["immutable"] = bool(request.immutable)

    obj = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": meta,
        "spec": {"template": template, "encryptedData": encrypted},
    }
    if existing:  # keep other spec fields (e.g. a deprecated spec.data written by someone else)
        for key, value in (existing.get("spec") or {}).items():
            if key not in obj["spec"]:
                obj["spec"][key] = copy.deepcopy(value)
    return SealResult(obj, added, changed, unchanged, kept, removed, migrated)


def describe_for_diff(obj, statuses=None):
    """A diff-friendly text of a SealedSecret: names, scope, labels, types and item keys only.

    No ciphertext, no fingerprints, no plaintext."""
    if not obj:
        return ""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    tmeta = (spec.get("template") or {}).get("metadata") or {}
    lines = [
        "%s %s" % (KIND, "/".join(x for x in (meta.get("namespace"), meta.get("name")) if x)),
        "scope: %s" % scope_from_annotations(meta.get("annotations")),
    ]
    if (spec.get("template") or {}).get("type"):
        lines.append("type: %s" % spec["template"]["type"])
    if "immutable" in (spec.get("template") or {}):
        lines.append("immutable: %s" % spec["template"]["immutable"])
    for key in sorted(tmeta.get("labels") or {}):
        lines.append("label %s: %s" % (key, tmeta["labels"][key]))
    for key in sorted(tmeta.get("annotations") or {}):
        lines.append("annotation %s" % key)
    lines.append("encryptedData:")
    for key in sorted(spec.get("encryptedData") or {}):
        status = (statuses or {}).get(key)
        lines.append("  %s%s" % (key, " (%s)" % status if status else ""))
    return "\n".join(lines) + "\n"
