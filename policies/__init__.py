"""Built-in scheduling plugins and policies, one module per plugin or policy.

Each module exports plugin classes (with ``NAME``) in a module-level ``PLUGINS`` list and/or named
profiles in a ``PROFILES`` dict; :mod:`kbench.policy.registry` imports every module of this package
(see docs/POLICY_CONTRACT.md).
"""
