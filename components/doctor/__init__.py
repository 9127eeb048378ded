"""`mesh-tracing doctor`: find where traces break in the mesh, and how much is really sampled.

It reads recent traces from Jaeger's query API (and, when given, Istio's request metrics from
Prometheus), and reports services that drop the trace headers, services that send no spans,
spans whose parent never arrived, and the sampling each trace-start point really gets.
"""
