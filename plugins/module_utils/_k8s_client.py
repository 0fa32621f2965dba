# -*- coding: utf-8 -*-
# Copyright: parametric_portal maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubernetes.core's API client for this collection's modules that read the Kubernetes API.

PRIVATE to parametric_portal.infra: not a public API. The modules take kubernetes.core's standard
connection options (AUTH_ARG_SPEC, documented by the kubernetes.core.k8s_auth_options fragment) and get
their client here; API_ERRORS are the exceptions a read raises while the API cannot answer.
"""

from __future__ import annotations

import copy
import traceback
from typing import Any, Dict

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

try:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
    from urllib3.exceptions import HTTPError
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
    API_ERRORS: tuple = ()
else:
    KUBERNETES_IMPORT_ERROR = None
    API_ERRORS = (ApiException, DynamicApiError, ResourceNotFoundError, HTTPError)
HAS_KUBERNETES = KUBERNETES_IMPORT_ERROR is None


def auth_argument_spec() -> Dict[str, Any]:
    """A copy of kubernetes.core's connection options, to extend with the module's own."""
    return copy.deepcopy(AUTH_ARG_SPEC)


def k8s_client(params: Dict[str, Any]) -> Any:
    """kubernetes.core's K8SClient for the connection options in ``params`` (and K8S_AUTH_* variables)."""
    return get_api_client(**dict((key, params.get(key)) for key in AUTH_ARG_SPEC))
