"""LGTM invariants the render taught beyond PSS and resources (values of monitoring_lgtm_chart_values).

- Tempo's chart default ingester replication factor is 3: with the one ingester lgtm-distributed runs,
  every push is refused. Mimir's ingester and store-gateway rings default to 3 as well.
- Loki's and Tempo's chart defaults store on each pod's own filesystem: their queriers never see what
  the ingesters flushed. All three store in the one in-cluster MinIO.
- MinIO's chart defaults carry published credentials (root supersecret, user console/console123).
"""
from __future__ import annotations

import yaml

from . import conftest

MONITORING_DEFAULTS = conftest.ROLES / "monitoring" / "defaults" / "main.yml"


def values() -> dict:
    return conftest.our_values("monitoring")


def test_replication_factors_do_not_exceed_the_replicas():
    v = values()
    tempo_ingesters = v["tempo"]["ingester"].get("replicas", 1)  # lgtm-distributed sets 1
    assert v["tempo"]["ingester"]["config"]["replication_factor"] <= tempo_ingesters
    mimir = v["mimir"]
    ring = mimir["mimir"]["structuredConfig"]
    assert ring["ingester"]["ring"]["replication_factor"] <= mimir["ingester"]["replicas"]
    assert ring["store_gateway"]["sharding_ring"]["replication_factor"] <= mimir["store_gateway"]["replicas"]
    assert conftest.declared_defaults("lgtm-distributed-3.0.1")["tempo"]["ingester"]["replicas"] == 1
    assert conftest.declared_defaults("lgtm-distributed-3.0.1/charts/tempo-distributed")["ingester"]["config"]["replication_factor"] == 3


def test_loki_and_tempo_store_in_the_shared_minio():
    v = values()
    loki = v["loki"]["loki"]
    assert {c["object_store"] for c in loki["schemaConfig"]["configs"]} == {"aws"}
    assert loki["storageConfig"]["boltdb_shipper"]["shared_store"] == "aws"
    assert loki["structuredConfig"]["compactor"]["shared_store"] == "aws"
    assert loki["storageConfig"]["aws"]["endpoint"] == "lgtm-minio:9000"
    trace = v["tempo"]["storage"]["trace"]
    assert trace["backend"] == "s3" and trace["s3"]["endpoint"] == "lgtm-minio:9000"


def test_every_bucket_the_configs_use_is_created():
    v = values()
    job = v["mimir"]["extraObjects"][0]
    script = " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
    used = {"mimir-tsdb", "mimir-ruler", v["loki"]["loki"]["storageConfig"]["aws"]["bucketnames"],
            v["tempo"]["storage"]["trace"]["s3"]["bucket"]}
    for bucket in used:
        assert "lgtm/%s" % bucket in script, bucket


def test_minio_credentials_come_from_the_role_secret_not_the_chart():
    v = values()
    secret = yaml.safe_load(MONITORING_DEFAULTS.read_text())["monitoring_minio_secret_name"]
    minio = v["mimir"]["minio"]
    assert minio["existingSecret"] == secret
    assert minio["users"] == []
    # Mimir's config template prints rootUser/rootPassword: they must be the env references.
    assert (minio["rootUser"], minio["rootPassword"]) == ("${rootUser}", "${rootPassword}")
    env_users = [v["loki"][c]["extraEnvFrom"] for c in ("ingester", "distributor", "querier", "queryFrontend", "compactor")]
    env_users += [v["tempo"]["global"]["extraEnvFrom"], v["mimir"]["global"]["extraEnvFrom"]]
    assert all(e == [{"secretRef": {"name": secret}}] for e in env_users)
    for component in ("ingester", "distributor", "querier", "queryFrontend", "compactor"):
        assert "-config.expand-env=true" in v["loki"][component]["extraArgs"]
    assert "-config.expand-env=true" in v["tempo"]["global"]["extraArgs"]
