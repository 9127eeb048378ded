"""Offline tooling: a stack's desired state evaluated under the Pulumi SDK's mock runtime, as a
stable plan document, diffs between plans, their renderings, and the `mesh-tracing` command."""
