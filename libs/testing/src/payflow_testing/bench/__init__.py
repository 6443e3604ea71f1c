"""`make bench`: end-to-end throughput, latency and cost per transfer on the real processes.

`cli` runs it, `load` drives the public API, `probes` reads /proc, /metrics and Redis, `figures`
holds the pure computations (unit tested in libs/testing/tests).
"""
