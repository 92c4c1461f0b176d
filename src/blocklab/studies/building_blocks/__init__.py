"""Studies 45-51 of source document 000: one module or package per study."""
