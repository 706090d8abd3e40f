"""videoedge.benchmarks: PyTorch vs ONNX latency, throughput, memory and accuracy."""
