"""The policy pack's entry point: constructing the PolicyPack starts the analyzer server."""

from pulumi_policy import EnforcementLevel, PolicyPack

from pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
