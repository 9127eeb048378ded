"""Entry point the Pulumi engine runs to host the mesh-tracing components as a provider."""

from mesh_tracing.provider import serve

if __name__ == "__main__":
    serve()
