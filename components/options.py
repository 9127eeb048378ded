"""Resource options a component hands down to the resources it creates."""

from __future__ import annotations

from typing import Optional

import pulumi


def child_options(
    parent: pulumi.Resource,
    opts: Optional[pulumi.ResourceOptions],
    **extra: object,
) -> pulumi.ResourceOptions:
    """Options for a component's child: parented to the component, and waiting for whatever the
    component was told to depend on (a namespace, typically), which Pulumi does not pass down on
    its own."""
    depends_on = opts.depends_on if opts is not None else None
    return pulumi.ResourceOptions(parent=parent, depends_on=depends_on, **extra)  # type: ignore[arg-type]
