"""Benchmarks of Yingji on PostgreSQL; `python -m bench` runs them all (see bench/README.md).

They print numbers and assert nothing; pytest does not collect them (testpaths = tests).
"""
