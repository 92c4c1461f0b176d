"""blocklab: every building block of the Transformer, written from scratch and proven by experiment."""
__version__ = "0.1.0"
