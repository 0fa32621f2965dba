"""k8s_drift: which objects of a check-mode apply really differ from the cluster (playbooks/k8s_diff.yml).

The HPA case is written by hand in the shape of the result kubernetes.core.k8s returned in this
project's control-plane stage (values such as resourceVersion are made up): the HPA controller wrote
status between the module's read and its dry-run, and k8s:diff reported the unchanged HPA as drifted
(test_diff_shows_a_drifted_live_object failed with "2 of 28 objects"). The real case runs against the
real API server and controller manager in tests/controlplane."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.parametric_portal.infra.plugins.filter.k8s_drift import FilterModule

k8s_drift = FilterModule().filters()["k8s_drift"]

HPA = {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "icons", "namespace": "parametric-portal"}}
DEPLOY = {"kind": "Deployment", "metadata": {"name": "api", "namespace": "parametric-portal"}}

HPA_STATUS_ONLY = {"changed": True, "diff": {
    "before": {"metadata": {"resourceVersion": "480", "managedFields": [{"manager": "kube-controller-manager"}]},
               "status": {"currentReplicas": 1, "desiredReplicas": 1}},
    "after": {"metadata": {"resourceVersion": "505",
                           "managedFields": [{"manager": "kube-controller-manager", "subresource": "status"}]},
              "status": {"currentReplicas": 1, "desiredReplicas": 2,
                         "conditions": [{"type": "AbleToScale", "reason": "SucceededRescale"}]}}}}
IMAGE_DRIFT = {"changed": True, "diff": {
    "before": {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:1-drifted"}]}}}},
    "after": {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:1"}]}}}}}}


def test_status_and_server_metadata_alone_are_not_drift():
    assert k8s_drift([HPA], [HPA_STATUS_ONLY]) == []


def test_a_spec_difference_is_drift_and_keeps_file_order():
    pairs = k8s_drift([DEPLOY, HPA], [IMAGE_DRIFT, HPA_STATUS_ONLY])
    assert pairs == [[DEPLOY, IMAGE_DRIFT]]


@pytest.mark.parametrize("result", [
    {"changed": True, "diff": {"before": {"metadata": {"labels": {"a": "1"}, "resourceVersion": "1"}},
                               "after": {"metadata": {"labels": {"a": "2"}, "resourceVersion": "2"}}}},
    {"changed": True, "diff": {"before": {}, "after": {"kind": "ConfigMap", "data": {"k": "v"}}}},  # not in the cluster
    {"changed": True},  # no diff to judge by: the module's verdict stands
])
def test_labels_new_objects_and_results_without_a_diff_are_drift(result):
    assert k8s_drift([DEPLOY], [result]) == [[DEPLOY, result]]


def test_unchanged_results_are_not_drift():
    assert k8s_drift([DEPLOY], [{"changed": False, "diff": IMAGE_DRIFT["diff"]}]) == []


def test_objects_and_results_that_do_not_pair_are_refused():
    with pytest.raises(AnsibleFilterError, match="2 objects but 1 results"):
        k8s_drift([DEPLOY, HPA], [IMAGE_DRIFT])
    with pytest.raises(AnsibleFilterError, match="must be lists"):
        k8s_drift(DEPLOY, [IMAGE_DRIFT])
