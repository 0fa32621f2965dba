# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GitOps tree generator of parametric_portal.infra, one module per concern.

PRIVATE to the parametric_portal.infra collection: not a public API; it may change at any time
without notice. The gitops_render module, the site_inputs and manifests filters and the tests use it.

One pipeline, in this order:

* ``checks``   - ManifestError and the typed field checks every step uses (messages name the field).
* ``model``    - the apps model and the environment tables: validation and normalisation.
* ``platform`` - what the owning roles contribute (pins, chart values, Kyverno objects, dashboards):
                 validation and the platform/kyverno and platform/monitoring objects.
* ``k8s``      - small object helpers (metadata, labels, kustomizations).
* ``pss``      - Pod Security Standards *restricted* checks of pod templates.
* ``apps``     - the objects of one app (Deployment, Service, IngressRoute, Middlewares).
* ``base``     - the shared objects of base/ (Namespace, TLSOption, NetworkPolicies, PDBs, Middlewares).
* ``overlays`` - the per-environment objects and kustomizations of overlays/<env>/.
* ``argocd``   - the one Argo CD Application generator (tree and bootstrap use it).
* ``dump``     - deterministic YAML.
* ``tree``     - assembles every file of the tree (path -> objects -> text).
* ``plan``     - compares the rendered tree with the destination and writes it (the only file I/O).
"""
