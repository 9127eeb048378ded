"""Entry point of the mesh-tracing Pulumi project: `pulumi up` runs this per stack."""

from mesh_tracing.program import main

main()
