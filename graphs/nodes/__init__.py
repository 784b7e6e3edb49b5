"""One module per node of the cycle graph."""
