"""Pure builders of Helm values and Kubernetes specs: plain data in, plain data out, no Pulumi."""
