"""The simulated control plane: one module per component (DESIGN.md layout)."""
