"""The embedded local stack: `make run` (`python -m infra.local`) runs parkcharge on 127.0.0.1.

See infra/local/README.md.
"""
