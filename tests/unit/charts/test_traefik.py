"""Traefik as K3s v1.32.11+k3s1 deploys it (chart 37.1.1+up37.1.0 with K3s' values under ours).

What rendering the chart taught: `certificatesResolvers` is turned into command-line flags by the
chart's `traefik.yaml2CommandLineArgs` helper - maps recurse, every other value becomes a flag only
when it is non-empty (Go template `with`). An empty map (`tlsChallenge: {}`) therefore renders no
`--certificatesresolvers.<name>.acme.tlschallenge` flag: the resolver has no challenge and Traefik
serves its self-signed default certificate. `flags()` below is that helper's logic.
"""
from __future__ import annotations

from typing import Any, List

import pytest

from . import conftest


def _truthy(value: Any) -> bool:
    """Go template truthiness as `with` uses it."""
    return value not in (None, False, 0, "", {}, [])


def flags(path: str, content: dict) -> List[str]:
    """The chart's traefik.yaml2CommandLineArgs: nested map -> --a.b.c=value flags (keys sorted, as Go ranges maps)."""
    out: List[str] = []
    for key in sorted(content):
        value = content[key]
        if isinstance(value, dict):
            out.extend(flags("%s.%s" % (path, key), value))
        elif _truthy(value):
            text = ",".join(str(v).lower() if isinstance(v, bool) else str(v)
                            for v in (value if isinstance(value, list) else [value]))
            out.append("--%s.%s=%s" % (path, key, text))
    return out


CHALLENGES = ("tlschallenge", "httpchallenge.entrypoint", "dnschallenge.provider")


def challenge_flags(resolvers: dict) -> dict:
    rendered = [f.lower() for f in flags("certificatesresolvers", resolvers)]
    return {name: [f for f in rendered if f.startswith("--certificatesresolvers.%s.acme." % name.lower())
                   and any(".acme.%s=" % c in f for c in CHALLENGES)] for name in resolvers}


def test_every_acme_resolver_renders_a_challenge_flag():
    values = conftest.our_values("traefik")
    resolvers = values["certificatesResolvers"]
    assert resolvers, "no certificate resolver configured"
    for name, found in challenge_flags(resolvers).items():
        assert found, "resolver %s renders no challenge flag" % name
    assert challenge_flags(resolvers)["letsencrypt"] == ["--certificatesresolvers.letsencrypt.acme.tlschallenge=true"]


def test_an_empty_challenge_map_renders_nothing():
    """The defect the render showed (values before the fix): the resolver had no challenge at all."""
    broken = {"letsencrypt": {"acme": {"email": "ops@example.com", "storage": "/data/acme.json", "tlsChallenge": {}}}}
    assert challenge_flags(broken) == {"letsencrypt": []}
    assert flags("certificatesresolvers", broken) == [
        "--certificatesresolvers.letsencrypt.acme.email=ops@example.com",
        "--certificatesresolvers.letsencrypt.acme.storage=/data/acme.json",
    ]


def test_acme_uses_the_persistent_volume_and_the_production_ca_in_prod():
    values = conftest.our_values("traefik")
    acme = values["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme["storage"].startswith(values["persistence"]["path"] + "/")
    assert values["persistence"]["enabled"] is True
    assert acme["caServer"] == "https://acme-v02.api.letsencrypt.org/directory"
    # TLS-ALPN-01 answers on websecure, which must be published on 443.
    assert values["ports"]["websecure"]["exposedPort"] == 443


def test_default_runs_the_image_k3s_bundles(shared_charts):
    """No image override by default: K3s' own values (under ours) pick the bundled Traefik."""
    values = conftest.our_values("traefik")
    assert "image" not in values and "versionOverride" not in values
    effective = conftest.effective_values("traefik")
    assert (effective["image"]["repository"], effective["image"]["tag"]) == ("rancher/mirrored-library-traefik", "3.5.1")


@pytest.mark.parametrize("tag, digest, image, version_override", [
    ("v3.6.25", "", {"repository": "traefik", "tag": "v3.6.25"}, None),
    ("v3.6.25", "sha256:" + "0" * 64, {"repository": "traefik", "tag": "v3.6.25@sha256:" + "0" * 64}, "v3.6.25"),
])
def test_image_pin_option(tag, digest, image, version_override):
    values = conftest.our_values("traefik", {"traefik_image_repository": "traefik", "traefik_image_tag": tag,
                                             "traefik_image_digest": digest})
    assert values["image"] == image
    assert values.get("versionOverride") == version_override
    # The pin changes nothing else.
    rest = {k: v for k, v in values.items() if k not in ("image", "versionOverride")}
    assert rest == conftest.our_values("traefik")
