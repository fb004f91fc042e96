"""Engine-specific SQLMesh overrides, one module per engine, imported only by its gateway."""
