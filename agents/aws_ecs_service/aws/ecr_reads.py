"""Read-only Amazon ECR call: do the images a revision runs exist, and for which platforms.

One BatchGetImage per repository answers for every tag or digest asked (a failure per missing
one, where DescribeImages fails the whole call) and returns the manifest, whose index lists the
platforms of a multi-arch image.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# A private ECR image: the host must be exactly an ECR registry (no look-alike hosts such as
# ...amazonaws.com.evil.example), the repository may have namespaces, the tag or digest is optional.
_ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$")
_INDEX_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json")
ACCEPTED_MEDIA_TYPES = [*_INDEX_TYPES, "application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.oci.image.manifest.v1+json"]


@dataclass(frozen=True)
class EcrImage:
    uri: str
    registry: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def image_id(self) -> dict[str, str]:
        """What BatchGetImage is asked for: the digest when pinned, else the tag (`latest` when none)."""
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or "latest"}


def parse_ecr_image(uri: str | None) -> EcrImage | None:
    m = _ECR_IMAGE.match(uri or "")
    if not m:
        return None
    return EcrImage(uri, m.group("registry"), m.group("region"), m.group("repository"), m.group("tag"),
                    m.group("digest"))


def images(ecr, registry: str, repository: str, image_ids: list[dict[str, str]]) -> dict[str, Any]:
    """BatchGetImage for one repository: {"images": [{imageId, imageManifestMediaType, platforms}], "failures"}.
    `platforms` lists the index's "os/architecture[/variant]" entries; None for a single-platform manifest."""
    answer = ecr.batch_get_image(registryId=registry, repositoryName=repository, imageIds=image_ids,
                                 acceptedMediaTypes=ACCEPTED_MEDIA_TYPES)
    found = [{"imageId": image.get("imageId"), "imageManifestMediaType": image.get("imageManifestMediaType"),
              "platforms": _platforms(image.get("imageManifest"))} for image in answer.get("images", [])]
    return {"images": found, "failures": answer.get("failures", [])}


def _platforms(manifest: str | None) -> list[str] | None:
    try:
        document = json.loads(manifest or "{}")
    except ValueError:
        return None
    if document.get("mediaType") not in _INDEX_TYPES and "manifests" not in document:
        return None
    out = []
    for entry in document.get("manifests") or []:
        platform = entry.get("platform") or {}
        if platform.get("os") and platform.get("architecture") and platform["architecture"] != "unknown":
            parts = [platform["os"], platform["architecture"]] + ([platform["variant"]] if platform.get("variant") else [])
            out.append("/".join(parts))
    return out
