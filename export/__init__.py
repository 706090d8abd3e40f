"""videoedge.export: ONNX fp32/fp16/int8 bundles that carry the contract and prove parity."""
