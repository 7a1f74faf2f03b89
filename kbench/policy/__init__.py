"""Scheduling policies: plugin API, registry, profiles, the framework and explain."""
