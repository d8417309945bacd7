"""The configured Bedrock model: what kind of id it is and in which regions it can be invoked.

A system-defined (cross-Region) inference profile id starts with its geography (`us.`, `eu.`,
`apac.`, ...): it can be called only from a source Region of that geography, while `global.`
profiles work from any commercial Region. An application inference profile or a foundation model
given as an ARN belongs to the Region in its ARN. A bare foundation-model id says nothing about
where it is offered, so it passes the check (Bedrock answers at run time).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["foundation-model", "inference-profile", "application-inference-profile"]

# Geography prefix -> the source Regions it serves (a name ending in "-" is a prefix).
GEOGRAPHY_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-", "us-west-"),
    "us-gov": ("us-gov-",),
    "eu": ("eu-",),
    "apac": ("ap-",),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-",),
}
GLOBAL = "global"
# Regions outside the commercial partition, where a global profile does not route.
NOT_COMMERCIAL = ("us-gov-", "cn-", "us-iso", "eu-isoe-")
_PROFILE_ID = re.compile(rf"^(?P<geo>{'|'.join(sorted([*GEOGRAPHY_REGIONS, GLOBAL], key=len, reverse=True))})"
                         r"\.(?P<model>.+)$")
_ARN = re.compile(r"^arn:(?P<partition>[^:]+):bedrock:(?P<region>[^:]*):(?P<account>[^:]*):"
                  r"(?P<type>foundation-model|inference-profile|application-inference-profile)/(?P<name>.+)$")


class ModelRegionError(ValueError):
    """The model cannot be invoked from the deploy Region."""


@dataclass(frozen=True)
class BedrockModel:
    model_id: str
    kind: Kind
    # The foundation model invoked (None for an application profile: known only to Bedrock).
    foundation_model: str | None = None
    geography: str | None = None
    # The Region an ARN names; None for ids, which are resolved in the caller's Region.
    arn_region: str | None = None

    @classmethod
    def parse(cls, model_id: str) -> BedrockModel:
        model_id = model_id.strip()
        arn = _ARN.match(model_id)
        if arn:
            name, kind = arn["name"], arn["type"]
            if kind == "application-inference-profile":
                return cls(model_id, "application-inference-profile", arn_region=arn["region"])
            if kind == "inference-profile":
                profile = _PROFILE_ID.match(name)
                return cls(model_id, "inference-profile", foundation_model=profile["model"] if profile else name,
                           geography=profile["geo"] if profile else None, arn_region=arn["region"])
            return cls(model_id, "foundation-model", foundation_model=name, arn_region=arn["region"] or None)
        profile = _PROFILE_ID.match(model_id)
        if profile:
            return cls(model_id, "inference-profile", foundation_model=profile["model"], geography=profile["geo"])
        return cls(model_id, "foundation-model", foundation_model=model_id)

    @property
    def is_profile(self) -> bool:
        return self.kind != "foundation-model"

    @property
    def routes_globally(self) -> bool:
        return self.geography == GLOBAL

    def problem_in(self, region: str) -> str | None:
        """Why this model cannot be invoked from `region`, or None when it can (as far as the id tells)."""
        if self.arn_region and self.arn_region != region:
            return (f"modelId {self.model_id} is a {self.kind} in {self.arn_region}; the stack deploys to {region}. "
                    f"Use a model or inference profile of {region} (-c modelId=...).")
        if self.geography is None:
            return None
        if self.routes_globally:
            if region.startswith(NOT_COMMERCIAL):
                return (f"modelId {self.model_id} is a global cross-Region inference profile, which routes only "
                        f"through commercial Regions; {region} is not one. Use a profile of {region}'s partition.")
            return None
        served = GEOGRAPHY_REGIONS[self.geography]
        if any(region == r or (r.endswith("-") and region.startswith(r)) for r in served):
            return None
        return (f"modelId {self.model_id} is a '{self.geography}' cross-Region inference profile, which can be "
                f"called only from {self.geography.upper()} Regions ({', '.join(served)}); the stack deploys to "
                f"{region}. Choose the profile of {region}'s geography or a global one, e.g. "
                f"-c modelId={GLOBAL}.{self.foundation_model}, and enable that model's access in the Bedrock console.")
