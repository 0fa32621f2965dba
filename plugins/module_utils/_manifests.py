# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure manifest logic of the GitOps tree: apps model checks, object builders, restricted checks.

PRIVATE to the parametric_portal.infra collection: this module is not a public API and may
change at any time without notice. The gitops_render module, the manifest filters, roles and tests
of this collection use it. Everything here is deterministic and free of I/O except the explicit
file helpers of the renderer (render_tree/plan_tree work on an in-memory mapping).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

# --------------------------------------------------------------------------------------------
# Pod Security Standards, restricted profile (Kubernetes docs "Pod Security Standards")
# --------------------------------------------------------------------------------------------
RESTRICTED_VOLUME_TYPES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)
ALLOWED_SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")
WORKLOAD_POD_TEMPLATE_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def pod_templates(obj: Any) -> List[Tuple[str, dict]]:
    """(dotted path, pod spec) of the pod template of a workload object; [] for other kinds."""
    if not isinstance(obj, dict):
        return []
    path = WORKLOAD_POD_TEMPLATE_PATHS.get(str(obj.get("kind")))
    if not path:
        return []
    node: Any = obj
    for key in path:
        node = _d(node).get(key)
    return [(".".join(path), node if isinstance(node, dict) else {})]


def restricted_violations(pod_spec: Any) -> List[str]:
    """Violations of the Pod Security Standards *restricted* profile (which includes baseline).

    Returns messages like ``containers[0].securityContext.allowPrivilegeEscalation must be false``
    (paths relative to the pod spec); an empty list means the pod spec is compliant. Checked:
    host namespaces, hostProcess, privileged, capabilities (drop ALL, add only NET_BIND_SERVICE),
    hostPath/volume types, host ports, AppArmor, SELinux, /proc mount, seccomp
    (RuntimeDefault/Localhost, set on the pod or on every container), sysctls, runAsNonRoot,
    runAsUser != 0 and allowPrivilegeEscalation false, for containers, initContainers and
    ephemeralContainers.
    """
    spec = _d(pod_spec)
    out: List[str] = []
    if not isinstance(pod_spec, dict):
        return ["pod spec is not an object"]
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            out.append("%s must not be true" % key)
    pod_sc = _d(spec.get("securityContext"))
    pod_seccomp = _d(pod_sc.get("seccompProfile")).get("type")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP:
        out.append("securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not %s" % pod_seccomp)
    if pod_sc.get("runAsUser") == 0:
        out.append("securityContext.runAsUser must not be 0")
    if pod_sc.get("runAsNonRoot") is False:
        out.append("securityContext.runAsNonRoot must not be false")
    out.extend(_selinux_apparmor("securityContext", pod_sc))
    if _d(pod_sc.get("windowsOptions")).get("hostProcess"):
        out.append("securityContext.windowsOptions.hostProcess must not be true")
    for index, sysctl in enumerate(pod_sc.get("sysctls") or []):
        name = _d(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            out.append("securityContext.sysctls[%d] %s is not a safe sysctl" % (index, name))
    for index, volume in enumerate(spec.get("volumes") or []):
        kinds = [k for k in _d(volume) if k != "name"]
        bad = [k for k in kinds if k not in RESTRICTED_VOLUME_TYPES]
        if bad:
            out.append("volumes[%d] (%s) uses %s; allowed: %s" % (
                index, _d(volume).get("name"), ", ".join(sorted(bad)), ", ".join(RESTRICTED_VOLUME_TYPES)))

    pod_non_root = pod_sc.get("runAsNonRoot") is True
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(group) or []):
            where = "%s[%d]" % (group, index)
            out.extend(_container_violations(where, _d(container), pod_seccomp, pod_non_root))
    return out


def _selinux_apparmor(prefix: str, sc: dict) -> List[str]:
    out = []
    selinux = _d(sc.get("seLinuxOptions"))
    if selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
        out.append("%s.seLinuxOptions.type %s is not allowed" % (prefix, selinux.get("type")))
    for key in ("user", "role"):
        if selinux.get(key):
            out.append("%s.seLinuxOptions.%s must not be set" % (prefix, key))
    apparmor = _d(sc.get("appArmorProfile")).get("type")
    if apparmor == "Unconfined":
        out.append("%s.appArmorProfile.type must not be Unconfined" % prefix)
    return out


def _container_violations(where: str, container: dict, pod_seccomp: Optional[str], pod_non_root: bool) -> List[str]:
    out = []
    sc = _d(container.get("securityContext"))
    prefix = where + ".securityContext"
    if sc.get("privileged"):
        out.append("%s.privileged must not be true" % prefix)
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append("%s.allowPrivilegeEscalation must be false" % prefix)
    caps = _d(sc.get("capabilities"))
    if "ALL" not in (caps.get("drop") or []):
        out.append("%s.capabilities.drop must contain ALL" % prefix)
    added = [c for c in caps.get("add") or [] if c != "NET_BIND_SERVICE"]
    if added:
        out.append("%s.capabilities.add may only contain NET_BIND_SERVICE, not %s" % (prefix, ", ".join(added)))
    if sc.get("runAsNonRoot") is False or not (sc.get("runAsNonRoot") is True or pod_non_root):
        out.append("%s.runAsNonRoot must be true (here or on the pod)" % prefix)
    if sc.get("runAsUser") == 0:
        out.append("%s.runAsUser must not be 0" % prefix)
    seccomp = _d(sc.get("seccompProfile")).get("type")
    if seccomp is not None and seccomp not in ALLOWED_SECCOMP:
        out.append("%s.seccompProfile.type must be RuntimeDefault or Localhost, not %s" % (prefix, seccomp))
    elif seccomp is None and pod_seccomp not in ALLOWED_SECCOMP:
        out.append("%s.seccompProfile.type must be RuntimeDefault or Localhost (here or on the pod)" % prefix)
    if sc.get("procMount") not in (None, "Default"):
        out.append("%s.procMount must be Default" % prefix)
    if _d(sc.get("windowsOptions")).get("hostProcess"):
        out.append("%s.windowsOptions.hostProcess must not be true" % prefix)
    out.extend(_selinux_apparmor(prefix, sc))
    for pindex, port in enumerate(container.get("ports") or []):
        if _d(port).get("hostPort"):
            out.append("%s.ports[%d].hostPort must not be set" % (where, pindex))
    return out


def workload_restricted_violations(objects: Iterable[Any]) -> List[str]:
    """``Kind/name: path: message`` for every restricted violation of every pod template."""
    out = []
    for obj in objects:
        for path, spec in pod_templates(obj):
            meta = _d(_d(obj).get("metadata"))
            for message in restricted_violations(spec):
                out.append("%s/%s: %s.%s" % (obj.get("kind"), meta.get("name"), path, message))
    return out
