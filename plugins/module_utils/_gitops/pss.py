# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod Security Standards *restricted* profile checks (Kubernetes docs "Pod Security Standards").

PRIVATE to parametric_portal.infra. restricted_violations lists what a pod spec breaks (restricted
includes baseline); workload_restricted_violations does it for the pod template of workload objects.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple

from ansible_collections.parametric_portal.infra.plugins.module_utils._gitops.checks import as_dict

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


def pod_templates(obj: Any) -> List[Tuple[str, dict]]:
    """(dotted path, pod spec) of the pod template of a workload object; [] for other kinds."""
    if not isinstance(obj, dict):
        return []
    path = WORKLOAD_POD_TEMPLATE_PATHS.get(str(obj.get("kind")))
    if not path:
        return []
    node: Any = obj
    for key in path:
        node = as_dict(node).get(key)
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
    if not isinstance(pod_spec, dict):
        return ["pod spec is not an object"]
    out = ["%s must not be true" % key for key in ("hostNetwork", "hostPID", "hostIPC") if pod_spec.get(key)]
    pod_sc = as_dict(pod_spec.get("securityContext"))
    out.extend(_pod_security_context(pod_sc))
    out.extend(_volumes(pod_spec.get("volumes") or []))
    pod_seccomp = as_dict(pod_sc.get("seccompProfile")).get("type")
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(pod_spec.get(group) or []):
            where = "%s[%d]" % (group, index)
            out.extend(_container_violations(where, as_dict(container), pod_seccomp, pod_non_root))
    return out


def _pod_security_context(pod_sc: dict) -> List[str]:
    out = []
    pod_seccomp = as_dict(pod_sc.get("seccompProfile")).get("type")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP:
        out.append("securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not %s" % pod_seccomp)
    if pod_sc.get("runAsUser") == 0:
        out.append("securityContext.runAsUser must not be 0")
    if pod_sc.get("runAsNonRoot") is False:
        out.append("securityContext.runAsNonRoot must not be false")
    out.extend(_selinux_apparmor("securityContext", pod_sc))
    if as_dict(pod_sc.get("windowsOptions")).get("hostProcess"):
        out.append("securityContext.windowsOptions.hostProcess must not be true")
    for index, sysctl in enumerate(pod_sc.get("sysctls") or []):
        name = as_dict(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            out.append("securityContext.sysctls[%d] %s is not a safe sysctl" % (index, name))
    return out


def _volumes(volumes: list) -> List[str]:
    out = []
    for index, volume in enumerate(volumes):
        bad = [k for k in as_dict(volume) if k != "name" and k not in RESTRICTED_VOLUME_TYPES]
        if bad:
            out.append("volumes[%d] (%s) uses %s; allowed: %s" % (
                index, as_dict(volume).get("name"), ", ".join(sorted(bad)), ", ".join(RESTRICTED_VOLUME_TYPES)))
    return out


def _selinux_apparmor(prefix: str, sc: dict) -> List[str]:
    out = []
    selinux = as_dict(sc.get("seLinuxOptions"))
    if selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
        out.append("%s.seLinuxOptions.type %s is not allowed" % (prefix, selinux.get("type")))
    for key in ("user", "role"):
        if selinux.get(key):
            out.append("%s.seLinuxOptions.%s must not be set" % (prefix, key))
    apparmor = as_dict(sc.get("appArmorProfile")).get("type")
    if apparmor == "Unconfined":
        out.append("%s.appArmorProfile.type must not be Unconfined" % prefix)
    return out


def _container_violations(where: str, container: dict, pod_seccomp: Optional[str], pod_non_root: bool) -> List[str]:
    sc = as_dict(container.get("securityContext"))
    prefix = where + ".securityContext"
    out = _container_privileges(prefix, sc, pod_non_root)
    seccomp = as_dict(sc.get("seccompProfile")).get("type")
    if seccomp is not None and seccomp not in ALLOWED_SECCOMP:
        out.append("%s.seccompProfile.type must be RuntimeDefault or Localhost, not %s" % (prefix, seccomp))
    elif seccomp is None and pod_seccomp not in ALLOWED_SECCOMP:
        out.append("%s.seccompProfile.type must be RuntimeDefault or Localhost (here or on the pod)" % prefix)
    if sc.get("procMount") not in (None, "Default"):
        out.append("%s.procMount must be Default" % prefix)
    if as_dict(sc.get("windowsOptions")).get("hostProcess"):
        out.append("%s.windowsOptions.hostProcess must not be true" % prefix)
    out.extend(_selinux_apparmor(prefix, sc))
    for pindex, port in enumerate(container.get("ports") or []):
        if as_dict(port).get("hostPort"):
            out.append("%s.ports[%d].hostPort must not be set" % (where, pindex))
    return out


def _container_privileges(prefix: str, sc: dict, pod_non_root: bool) -> List[str]:
    out = []
    if sc.get("privileged"):
        out.append("%s.privileged must not be true" % prefix)
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append("%s.allowPrivilegeEscalation must be false" % prefix)
    caps = as_dict(sc.get("capabilities"))
    if "ALL" not in (caps.get("drop") or []):
        out.append("%s.capabilities.drop must contain ALL" % prefix)
    added = [c for c in caps.get("add") or [] if c != "NET_BIND_SERVICE"]
    if added:
        out.append("%s.capabilities.add may only contain NET_BIND_SERVICE, not %s" % (prefix, ", ".join(added)))
    if sc.get("runAsNonRoot") is False or not (sc.get("runAsNonRoot") is True or pod_non_root):
        out.append("%s.runAsNonRoot must be true (here or on the pod)" % prefix)
    if sc.get("runAsUser") == 0:
        out.append("%s.runAsUser must not be 0" % prefix)
    return out


def workload_restricted_violations(objects: Iterable[Any]) -> List[str]:
    """``Kind/name: path: message`` for every restricted violation of every pod template."""
    out = []
    for obj in objects:
        for path, spec in pod_templates(obj):
            name = as_dict(as_dict(obj).get("metadata")).get("name")
            for message in restricted_violations(spec):
                out.append("%s/%s: %s.%s" % (obj.get("kind"), name, path, message))
    return out
